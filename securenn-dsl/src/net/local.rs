//! The in-memory transport: three parties in one process.
//!
//! Each party has a mailbox; sending a frame moves its payload (no copy) into the receiver's
//! mailbox and wakes the task waiting for it. Sends never block. When a party's endpoint
//! is dropped (its task finished or failed), its peers' pending and future receives from
//! it end with [`PeerClosed`](crate::Error::PeerClosed) instead of hanging; a message that
//! never comes ends the receive with [`Timeout`](crate::Error::Timeout) after
//! [`NetConfig::recv_timeout`]. Neither needs an async runtime: the timeout comes from
//! a small timer thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, Either};

use super::mailbox::Mailbox;
use super::timer::Delay;
use super::{Frame, Tag, Transport};
use crate::error::{Error, Result};
use crate::net::NetConfig;
use crate::party::Role;

/// One party's endpoint of the in-memory transport. Make the three with
/// [`LocalTransport::triple`].
///
/// # Examples
///
/// ```
/// use securenn_dsl::net::local::LocalTransport;
/// use securenn_dsl::net::{CallId, Frame, Tag, Transport};
/// use securenn_dsl::party::Role;
/// use securenn_dsl::net::NetConfig;
///
/// let [p0, p1, _p2] = LocalTransport::triple(&NetConfig::default());
/// let tag = Tag { call: CallId::ROOT.child(1), step: 0, chunk: 0 };
/// futures::executor::block_on(async {
///     p0.send(Role::P1, Frame { tag, round: 1, payload: vec![1, 2, 3] }).await?;
///     let frame = p1.recv(Role::P0, tag).await?;
///     assert_eq!(frame.payload, [1, 2, 3]);
///     Ok::<(), securenn_dsl::Error>(())
/// })?;
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug)]
pub struct LocalTransport {
    role: Role,
    mailboxes: Arc<[Mailbox; 3]>,
    max_frame_len: usize,
    recv_timeout: Duration,
}

impl LocalTransport {
    /// The three connected endpoints, for P0, P1 and P2 in that order, with the frame
    /// size, pending-bytes cap and receive timeout of `config`.
    pub fn triple(config: &NetConfig) -> [LocalTransport; 3] {
        let mailbox = || Mailbox::new(config.max_pending_bytes);
        let mailboxes = Arc::new([mailbox(), mailbox(), mailbox()]);
        Role::ALL.map(|role| LocalTransport {
            role,
            mailboxes: Arc::clone(&mailboxes),
            max_frame_len: config.max_frame_len,
            recv_timeout: config.recv_timeout,
        })
    }

    fn deliver(&self, to: Role, frame: Frame) -> Result<()> {
        if to == self.role {
            return Err(Error::WrongRole {
                operation: "send",
                role: self.role,
                reason: "a party cannot send a message to itself",
            });
        }
        if frame.payload.len() > self.max_frame_len {
            return Err(Error::FrameTooLarge {
                peer: to,
                len: frame.payload.len() as u64,
                max: self.max_frame_len,
            });
        }
        self.mailboxes[to.index()].deliver(self.role, frame)
    }
}

impl Transport for LocalTransport {
    fn role(&self) -> Role {
        self.role
    }

    fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>> {
        let result = self.deliver(to, frame);
        Box::pin(futures::future::ready(result))
    }

    fn recv(&self, from: Role, tag: Tag) -> BoxFuture<'_, Result<Frame>> {
        let deadline = Instant::now() + self.recv_timeout;
        let receive = self.mailboxes[self.role.index()].recv(self.role, from, tag);
        Box::pin(async move {
            match futures::future::select(receive, Delay::until(deadline)).await {
                Either::Left((frame, _)) => frame,
                Either::Right(((), _)) => Err(Error::Timeout {
                    peer: from,
                    tag,
                    after: self.recv_timeout,
                }),
            }
        })
    }
}

impl Drop for LocalTransport {
    fn drop(&mut self) {
        for peer in self.role.peers() {
            self.mailboxes[peer.index()].close(self.role);
        }
    }
}
