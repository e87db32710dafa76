//! Every message a context can receive, decoded from arbitrary text: an
//! error reply, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperclip_core::protocol::{self, AgentToBg, BgToAgent, Request, ToContent};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = protocol::decode::<Request>(&text);
    let _ = protocol::decode::<AgentToBg>(&text);
    let _ = protocol::decode::<BgToAgent>(&text);
    let _ = protocol::decode::<ToContent>(&text);
});
