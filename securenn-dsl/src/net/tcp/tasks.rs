//! The background tasks of a connection: the reader that drains a peer into the mailbox,
//! and the heartbeat.

use super::*;

/// Decodes frames from `peer` into the mailbox until the connection ends.
pub(super) async fn read_loop<R: AsyncRead + Unpin>(
    mut stream: R,
    mut reader: FrameReader,
    peer: Role,
    mailbox: Arc<Mailbox>,
) {
    loop {
        match reader.read(&mut stream).await {
            Ok(Some(WireMessage::Data(frame))) => {
                if mailbox.deliver(peer, frame).is_err() {
                    return;
                }
            }
            Ok(Some(WireMessage::Heartbeat)) => {}
            Ok(Some(WireMessage::Abort { culprit })) => {
                tracing::debug!(%peer, %culprit, "peer gave up");
                mailbox.abort(peer, culprit);
                return;
            }
            Ok(None) => {
                mailbox.close(peer);
                return;
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "connection ended");
                mailbox.fail(peer, error);
                return;
            }
        }
    }
}

/// Sends a heartbeat to the peer every `interval`, until the connection fails.
pub(super) async fn heartbeat_loop(writer: SharedWriter, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if writer
            .lock()
            .await
            .write(WireMessage::Heartbeat)
            .await
            .is_err()
        {
            return;
        }
    }
}
