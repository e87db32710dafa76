//! [`use_rpc`]: the pages' one way to show what the background answers: a
//! request sent when the component mounts, and again whenever an action
//! changed what it shows.

use std::rc::Rc;

use paperclip_core::protocol::Rpc;
use yew::prelude::*;

/// Nothing yet (loading), the answer, or the error to show.
pub type Loaded<T> = Option<Result<T, String>>;

/// Sends it again.
pub type Reload = Rc<dyn Fn()>;

/// Sends `request` when the component mounts and on every call of the
/// returned [`Reload`]; the state holds its answer through `map`, or the
/// error's message.
#[hook]
pub fn use_rpc<R, T>(request: R, map: fn(R::Response) -> T) -> (UseStateHandle<Loaded<T>>, Reload)
where
    R: Rpc + Clone + 'static,
    T: 'static,
{
    let state = use_state(|| None::<Result<T, String>>);
    let reload: Reload = {
        let state = state.clone();
        Rc::new(move || {
            let (state, request) = (state.clone(), request.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let answer = paperclip_platform::call(request)
                    .await
                    .map(map)
                    .map_err(|e| e.message);
                state.set(Some(answer));
            });
        })
    };
    {
        let reload = reload.clone();
        use_effect_with((), move |_| reload());
    }
    (state, reload)
}
