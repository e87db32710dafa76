//! Renders [`paperclip_core::markdown`]'s safe tree as Yew elements: never
//! as HTML. Links open in a new tab (`noopener noreferrer`), never in the
//! page, and show where they go; one that would carry data in its address
//! to another site asks first ([`paperclip_core::markdown::link_info`]);
//! images show their alternative text; code blocks get a Copy button.

use paperclip_core::markdown::{Kind, Node};
use yew::prelude::*;

/// The elements of `nodes`, shown on a page of `site`.
pub fn render(nodes: &[Node], site: &str) -> Html {
    html! { <>{ for nodes.iter().map(|n| node(n, site)) }</> }
}

fn node(n: &Node, site: &str) -> Html {
    match n {
        Node::Text(t) => html! { { t.clone() } },
        Node::Code(t) => html! { <code>{ t.clone() }</code> },
        // A newline the CSS shows as a line break (`white-space: pre-line`),
        // so the text reads and copies as the model wrote it.
        Node::Break => html! { { "\n" } },
        Node::Rule => html! { <hr /> },
        Node::CodeBlock { lang, text } => {
            html! { <CodeBlock lang={lang.clone()} text={text.clone()} /> }
        }
        Node::Element { kind, children } => {
            let inner = render(children, site);
            match kind {
                Kind::Paragraph => html! { <p>{ inner }</p> },
                Kind::Heading(1) => html! { <h3>{ inner }</h3> },
                Kind::Heading(2) => html! { <h4>{ inner }</h4> },
                Kind::Heading(_) => html! { <h5>{ inner }</h5> },
                Kind::Quote => html! { <blockquote>{ inner }</blockquote> },
                Kind::List(None) => html! { <ul>{ inner }</ul> },
                Kind::List(Some(start)) => html! { <ol start={start.to_string()}>{ inner }</ol> },
                Kind::Item => html! { <li>{ inner }</li> },
                Kind::Table => html! { <div class="table"><table>{ inner }</table></div> },
                Kind::TableHead => html! { <thead><tr>{ head_cells(children, site) }</tr></thead> },
                Kind::TableRow => html! { <tr>{ inner }</tr> },
                Kind::TableCell => html! { <td>{ inner }</td> },
                Kind::Emphasis => html! { <em>{ inner }</em> },
                Kind::Strong => html! { <strong>{ inner }</strong> },
                Kind::Strike => html! { <s>{ inner }</s> },
                Kind::Link(href) => html! {
                    <LinkView href={href.clone()} site={site.to_string()}>{ inner }</LinkView>
                },
                Kind::Image => {
                    html! { <span class="image-alt">{ "[image: " }{ inner }{ "]" }</span> }
                }
            }
        }
    }
}

/// The head row's cells as `th` (pulldown-cmark puts them straight in the
/// head, without a row).
fn head_cells(children: &[Node], site: &str) -> Html {
    html! {
        <>{ for children.iter().map(|c| match c {
            Node::Element { kind: Kind::TableCell, children } => html! { <th>{ render(children, site) }</th> },
            other => node(other, site),
        }) }</>
    }
}

#[derive(Properties, PartialEq)]
struct LinkProps {
    href: String,
    site: String,
    children: Html,
}

/// A link with its destination beside it. One that carries data in its
/// address to another site opens only after the user confirms, in the
/// agent (not a browser dialog the page could imitate).
#[function_component(LinkView)]
fn link_view(p: &LinkProps) -> Html {
    let info = paperclip_core::markdown::link_info(&p.href, &p.site);
    let asking = use_state(|| false);
    let onclick = {
        let asking = asking.clone();
        let confirm = info.confirm;
        Callback::from(move |e: MouseEvent| {
            if confirm {
                e.prevent_default();
                asking.set(true);
            }
        })
    };
    let open = {
        let (asking, href) = (asking.clone(), p.href.clone());
        Callback::from(move |_| {
            asking.set(false);
            if let Some(w) = web_sys::window() {
                let _ =
                    w.open_with_url_and_target_and_features(&href, "_blank", "noopener,noreferrer");
            }
        })
    };
    let cancel = {
        let asking = asking.clone();
        Callback::from(move |_| asking.set(false))
    };
    html! {
        <span class="link">
            <a href={p.href.clone()} target="_blank" rel="noopener noreferrer" {onclick}>{ p.children.clone() }</a>
            <span class="destination">{ format!(" ({})", info.destination) }</span>
            if *asking {
                <span class="confirm-link" role="group" aria-label="Open this link?">
                    { format!(" This link sends what is after “?” in its address to {}. ", info.destination) }
                    <button type="button" onclick={open}>{ "Open it" }</button>
                    <button type="button" onclick={cancel}>{ "Cancel" }</button>
                </span>
            }
        </span>
    }
}

#[derive(Properties, PartialEq)]
struct CodeProps {
    lang: String,
    text: String,
}

/// A code block with a Copy button.
#[function_component(CodeBlock)]
fn code_block(props: &CodeProps) -> Html {
    let copied = use_state(|| None::<bool>);
    let onclick = {
        let (text, copied) = (props.text.clone(), copied.clone());
        Callback::from(move |_| {
            let (text, copied) = (text.clone(), copied.clone());
            wasm_bindgen_futures::spawn_local(async move {
                copied.set(Some(copy(&text).await));
            });
        })
    };
    let label = match *copied {
        None => "Copy",
        Some(true) => "Copied",
        Some(false) => "Copy failed",
    };
    html! {
        <div class="code">
            <div class="code-bar">
                <span class="lang">{ props.lang.clone() }</span>
                <button type="button" class="copy" aria-label="Copy code" {onclick}>{ label }</button>
            </div>
            <pre><code>{ props.text.clone() }</code></pre>
        </div>
    }
}

/// Copies `text` to the clipboard: the async Clipboard API, else the
/// `copy` command on a hidden textarea.
async fn copy(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
        return true;
    }
    copy_with_command(&window, text).unwrap_or(false)
}

fn copy_with_command(window: &web_sys::Window, text: &str) -> Option<bool> {
    use wasm_bindgen::JsCast;
    let document = window.document()?;
    let area: web_sys::HtmlTextAreaElement =
        document.create_element("textarea").ok()?.dyn_into().ok()?;
    area.set_value(text);
    area.set_attribute("style", "position:fixed;opacity:0")
        .ok()?;
    document.body()?.append_child(&area).ok()?;
    area.select();
    let done = document
        .dyn_ref::<web_sys::HtmlDocument>()
        .and_then(|d| d.exec_command("copy").ok())
        .unwrap_or(false);
    area.remove();
    Some(done)
}
