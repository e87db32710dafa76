//! Imports in parts (`ImportBegin`, then `ImportPart` twice over the file;
//! see `paperclip_core::import`): one import at a time, held here between
//! its messages. The first pass validates every part and writes nothing;
//! the second writes each part (one transaction each) as it comes, so the
//! worker never holds more than a part of the file.

use std::cell::{Cell, RefCell};

use paperclip_core::export::{ExportFile, MergePolicy, FORMAT, VERSION};
use paperclip_core::import::ImportSession;
use paperclip_core::protocol::{
    ErrorKind, ImportBegin, ImportBegun, ImportPart, ImportStep, Imported, ProtocolError,
};

use crate::store::Store;

/// The import under way.
struct Running {
    import: u32,
    session: ImportSession,
    policy: MergePolicy,
    done: Imported,
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
    static NEXT: Cell<u32> = const { Cell::new(0) };
}

fn refused(message: String) -> ProtocolError {
    ProtocolError::new(ErrorKind::Malformed, message)
}

/// Starts an import (replacing one under way) after checking the header.
pub fn begin(r: ImportBegin) -> Result<ImportBegun, ProtocolError> {
    let session = ImportSession::begin(
        &r.header,
        r.total as usize,
        paperclip_platform::clock::now_ms(),
    )
    .map_err(|e| refused(format!("import refused, nothing changed: {e}")))?;
    // Ids differ across worker restarts too (a part for an import the
    // worker no longer holds is refused, never taken for another).
    let import = NEXT.with(|n| {
        if n.get() == 0 {
            n.set((js_sys::Math::random() * f64::from(u32::MAX / 2)) as u32 + 1);
        }
        let id = n.get();
        n.set(id.wrapping_add(1).max(1));
        id
    });
    RUNNING.with(|running| {
        *running.borrow_mut() = Some(Running {
            import,
            session,
            policy: r.policy,
            done: Imported {
                added: 0,
                overwritten: 0,
                skipped: 0,
                preferences: Vec::new(),
            },
        })
    });
    Ok(ImportBegun { import })
}

/// Takes one part: validates it (first pass) or writes it (second).
pub async fn part(store: &Store, r: ImportPart) -> Result<ImportStep, ProtocolError> {
    let taken = RUNNING.with(|running| {
        let mut running = running.borrow_mut();
        match running.as_ref() {
            Some(run) if run.import == r.import => running.take(),
            _ => None,
        }
    });
    let Some(mut run) = taken else {
        return Err(ProtocolError::failed(
            "no such import under way (another import replaced it, or the background \
             restarted): import the file again",
        ));
    };
    let writing = run.session.validated();
    let stopped = format!(
        "import stopped after writing {} of {} conversations",
        run.session.next(),
        run.session.total()
    );
    let conversations = match run.session.part(r.first as usize, &r.conversations) {
        Ok(c) => c,
        Err(e) if writing => return Err(refused(format!("{stopped}: {e}"))),
        Err(e) => return Err(refused(format!("import refused, nothing changed: {e}"))),
    };
    drop(r.conversations);
    if writing {
        let file = ExportFile {
            format: FORMAT.into(),
            version: VERSION,
            exported_ms: 0.0,
            conversations,
            preferences: None,
        };
        let plan = store
            .import(file, run.policy)
            .await
            .map_err(|e| ProtocolError::new(e.kind, format!("{stopped}: {}", e.message)))?;
        run.done.added += plan.added;
        run.done.overwritten += plan.overwritten;
        run.done.skipped += plan.skipped;
    }
    let step = ImportStep {
        done: run.session.done().then(|| Imported {
            preferences: run.session.offered_preferences(&store.preferences()),
            ..run.done.clone()
        }),
    };
    if !run.session.done() {
        // Back, unless another import began meanwhile.
        RUNNING.with(|running| {
            let mut running = running.borrow_mut();
            if running.is_none() {
                *running = Some(run);
            }
        });
    }
    Ok(step)
}
