//! What counts as page chrome (navigation, ads, banners, sidebars,
//! footers): the class and id words, roles and tags, and the test of an
//! element.

use super::*;

/// Words of class/id names that mark an element as page chrome.
pub(super) const CHROME_WORDS: &[&str] = &[
    "ad",
    "ads",
    "adv",
    "advert",
    "advertisement",
    "advertising",
    "sponsor",
    "sponsored",
    "promo",
    "promoted",
    "promotion",
    "banner",
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "newsletter",
    "subscribe",
    "subscription",
    "signup",
    "share",
    "sharing",
    "social",
    "related",
    "recommended",
    "recommendations",
    "trending",
    "popular",
    "sidebar",
    "widget",
    "menu",
    "navbar",
    "nav",
    "navigation",
    "breadcrumb",
    "breadcrumbs",
    "pagination",
    "pager",
    "masthead",
    "topbar",
    "toolbar",
    "modal",
    "popup",
    "overlay",
    "outbrain",
    "taboola",
    "comments",
    "disqus",
    "signature",
    "editsection",
    "navbox",
    "toc",
    "ticker",
    "skip",
    "sitemap",
    "copyright",
    "legal",
    "feedback",
    "rating",
    "helpful",
    "edit",
    "portal",
    "catlinks",
    "printfooter",
    "references",
    "reflist",
    "noprint",
];
/// Prefixes of class/id words that mark page chrome.
pub(super) const CHROME_PREFIXES: &[&str] = &[
    "adsby",
    "advert",
    "sponsor",
    "cookie",
    "newsletter",
    "social",
    "share",
    "navbox",
    "sidebar",
    "breadcrumb",
    "promo",
];
/// ARIA roles of page chrome.
pub(super) const CHROME_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
    "toolbar",
];

/// Whole class names of page chrome (author cards, reply forms) whose
/// words alone say nothing.
pub(super) const CHROME_CLASSES: &[&str] = &[
    "user-card",
    "usercard",
    "user-info",
    "userinfo",
    "author-card",
    "postprofile",
    "reply-form",
    "replyform",
    "comment-form",
    "respond",
    "more-from",
    "read-more",
];

pub(super) fn chrome_word(word: &str, inside_content: bool) -> bool {
    match word {
        // An article's own header and footer (title, byline) are content.
        "header" | "footer" => !inside_content,
        _ => CHROME_WORDS.contains(&word) || CHROME_PREFIXES.iter().any(|p| word.starts_with(p)),
    }
}

/// Whether `el` looks like page chrome by its tag, role or names.
pub(super) fn looks_like_chrome(el: &El, inside_content: bool) -> bool {
    match el.tag.as_ref() {
        "nav" | "aside" => return true,
        // An article's own header and footer (title, byline) are content.
        "header" | "footer" if !inside_content => return true,
        "main" | "article" | "body" | "html" => return false,
        _ => {}
    }
    if CHROME_ROLES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(el.attrs.role))
    {
        return true;
    }
    if el
        .attrs
        .class
        .split_ascii_whitespace()
        .chain([el.attrs.id])
        .any(|c| CHROME_CLASSES.contains(&c.to_ascii_lowercase().as_str()))
    {
        return true;
    }
    el.attrs
        .class
        .split(|c: char| !c.is_ascii_alphanumeric())
        .chain(el.attrs.id.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .any(|w| chrome_word(&w.to_ascii_lowercase(), inside_content))
}

/// Elements that make a table row a layout row (its cells read as blocks).
pub(super) fn is_container(el: &El) -> bool {
    matches!(
        el.tag.as_ref(),
        "p" | "ul"
            | "ol"
            | "dl"
            | "table"
            | "tr"
            | "pre"
            | "blockquote"
            | "section"
            | "article"
            | "form"
            | "figure"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
    )
}

pub(super) fn is_content_tag(el: &El) -> bool {
    matches!(el.tag.as_ref(), "main" | "article") || el.attrs.role.eq_ignore_ascii_case("main")
}
