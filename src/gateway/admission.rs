//! How many connections the gateway holds at once, and which one it lets go first.
//!
//! Every connection holds a file descriptor. Without a cap, a flood of idle TCP
//! connections used them all up: `accept` then failed, and good clients waited in the
//! kernel's queue until the flood's handshakes timed out (the third adversarial round:
//! with `ulimit -n 256`, 2 of 3 good requests timed out). So the gateway sizes its caps
//! from its descriptor limit, never accepts beyond them, and when the handshakes in
//! progress fill their share, a new connection evicts the oldest one still in its TLS
//! handshake: an idle client never finishes its handshake, a good one does in
//! milliseconds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// Descriptors kept for everything but connections: the listener, the runtime's epoll
/// and wakers, stdio, files a log may open.
const RESERVED_FDS: u64 = 32;

/// The most connections served at once, however many descriptors there are.
const MAX_CONNECTIONS: usize = 4096;

/// The caps of one gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Connections held at once, in their handshake or served.
    pub(crate) connections: usize,
    /// Connections in their TLS handshake at once; the oldest is evicted beyond it.
    pub(crate) handshakes: usize,
}

impl Limits {
    /// The caps for this process's descriptor limit (RLIMIT_NOFILE, the soft one).
    pub(crate) fn for_this_process() -> Limits {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        // Unknown: assume the common default of 1024.
        let soft = if rc == 0 { limit.rlim_cur } else { 1024 };
        Limits::for_fd_limit(soft)
    }

    /// The caps for `fds` descriptors: all but [`RESERVED_FDS`] for connections, half of
    /// them at most in a handshake, so that served clients always have room.
    pub(crate) fn for_fd_limit(fds: u64) -> Limits {
        let spare = usize::try_from(fds.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
        let connections = spare.clamp(2, MAX_CONNECTIONS);
        Limits {
            connections,
            handshakes: (connections / 2).max(1),
        }
    }
}

/// The connections in their TLS handshake, oldest first.
#[derive(Debug)]
pub(crate) struct Handshakes {
    waiting: Mutex<VecDeque<(u64, Arc<Notify>)>>,
    next_id: AtomicU64,
    max: usize,
}

impl Handshakes {
    pub(crate) fn new(max: usize) -> Arc<Handshakes> {
        Arc::new(Handshakes {
            waiting: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            max,
        })
    }

    /// Registers a new handshake; when `max` are already running, the oldest is told to
    /// stop (its [`HandshakeSlot::evicted`] completes).
    pub(crate) fn admit(self: &Arc<Self>) -> HandshakeSlot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evicted = Arc::new(Notify::new());
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        while waiting.len() >= self.max {
            match waiting.pop_front() {
                // notify_one keeps the notice for a task not yet waiting on it.
                Some((_, oldest)) => oldest.notify_one(),
                None => break,
            }
        }
        waiting.push_back((id, evicted.clone()));
        HandshakeSlot {
            id,
            evicted,
            owner: self.clone(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One connection's place among the handshakes; dropping it (the handshake is over)
/// frees the place.
#[derive(Debug)]
pub(crate) struct HandshakeSlot {
    id: u64,
    evicted: Arc<Notify>,
    owner: Arc<Handshakes>,
}

impl HandshakeSlot {
    /// Completes when a newer connection took this one's place.
    pub(crate) async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut waiting = self
            .owner
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = waiting.iter().position(|(id, _)| *id == self.id) {
            waiting.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_fit_the_descriptor_limit() {
        assert_eq!(
            Limits::for_fd_limit(256),
            Limits {
                connections: 224,
                handshakes: 112
            }
        );
        assert_eq!(Limits::for_fd_limit(1_000_000).connections, MAX_CONNECTIONS);
        let tiny = Limits::for_fd_limit(3);
        assert!(tiny.connections >= 2 && tiny.handshakes >= 1, "{tiny:?}");
    }

    #[tokio::test]
    async fn the_oldest_handshake_is_evicted_and_a_finished_one_frees_its_place() {
        let handshakes = Handshakes::new(2);
        let first = handshakes.admit();
        let second = handshakes.admit();
        let third = handshakes.admit();
        assert_eq!(handshakes.len(), 2);
        tokio::time::timeout(std::time::Duration::from_secs(1), first.evicted())
            .await
            .expect("the oldest is evicted");
        let not_yet =
            tokio::time::timeout(std::time::Duration::from_millis(50), second.evicted()).await;
        assert!(not_yet.is_err(), "the second is still in its place");
        drop(third);
        assert_eq!(handshakes.len(), 1);
        drop(first);
        drop(second);
        assert_eq!(handshakes.len(), 0);
    }
}
