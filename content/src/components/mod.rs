//! The agent's parts, one component per concern; [`crate::App`] owns the
//! state and the port and passes each part what it shows and the
//! callbacks of its controls.

mod composer;
mod conversations;
mod device;
mod header;
mod hint;
mod preview;
mod transcript;

pub use composer::{Composer, QuickActions};
pub use conversations::SiteConversations;
pub use device::{Done as DeviceDone, OnDeviceCard};
pub use header::{balloon, Header};
pub use hint::HintCard;
pub use preview::PreviewPanel;
pub use transcript::Transcript;
