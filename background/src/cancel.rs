//! Cancellation of one ask: the Stop button (and a closed agent) set it;
//! every wait of the ask (fetch, stream reads, retry backoff, the
//! bulkhead's queue, the rate limiter) ends as soon as it is set.

use std::cell::{Cell, RefCell};

use futures::channel::oneshot;
use futures::future::{select, Either};
use paperclip_platform::timer::TimeoutFuture;

/// A stop signal, set once.
#[derive(Default)]
pub struct Cancel {
    stopped: Cell<bool>,
    waiters: RefCell<Vec<oneshot::Sender<()>>>,
}

impl Cancel {
    /// Sets the signal and wakes everything waiting on it.
    pub fn stop(&self) {
        self.stopped.set(true);
        for waiter in self.waiters.borrow_mut().drain(..) {
            let _ = waiter.send(());
        }
    }

    /// Whether [`Cancel::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Resolves when the signal is set (at once if it is).
    pub async fn stopped(&self) {
        if self.is_stopped() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().push(tx);
        let _ = rx.await;
    }

    /// Runs `work` unless stopped first (`None`).
    pub async fn run<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let work = std::pin::pin!(work);
        let stop = std::pin::pin!(self.stopped());
        match select(work, stop).await {
            Either::Left((value, _)) => Some(value),
            Either::Right(_) => None,
        }
    }

    /// Sleeps `ms`; false when stopped first.
    pub async fn sleep(&self, ms: u64) -> bool {
        let ms = u32::try_from(ms).unwrap_or(u32::MAX);
        self.run(TimeoutFuture::new(ms)).await.is_some()
    }
}
