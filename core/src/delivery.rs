//! How one of our services tells another something over HTTP — a media command, a call
//! event, a change notice, each a signed POST: tried a few times with a pause that doubles,
//! and given up at once on a refusal (4xx: trying again would not change it). The policy
//! lives here once; each adapter brings its HTTP client and its runtime's sleep.

use std::future::Future;
use std::time::Duration;

/// Tries at most.
pub const ATTEMPTS: u32 = 4;
/// The pause after the first failed try; each next one is twice as long.
pub const FIRST_PAUSE: Duration = Duration::from_millis(200);

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The receiver said no (this status); not tried again.
    Refused(u16),
    /// Every try failed (no answer, or a server error).
    GaveUp,
}

/// Runs `send` (one try: the HTTP status, or `None` when nothing came back) until it is
/// accepted or refused, pausing with `pause` between tries.
pub async fn deliver<S, SF, P, PF>(mut send: S, mut pause: P) -> Delivery
where
    S: FnMut() -> SF,
    SF: Future<Output = Option<u16>>,
    P: FnMut(Duration) -> PF,
    PF: Future<Output = ()>,
{
    for attempt in 0..ATTEMPTS {
        match send().await {
            Some(status) if (200..300).contains(&status) => return Delivery::Delivered,
            Some(status) if (400..500).contains(&status) => return Delivery::Refused(status),
            _ if attempt + 1 < ATTEMPTS => pause(FIRST_PAUSE * 2u32.pow(attempt)).await,
            _ => {}
        }
    }
    Delivery::GaveUp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Runs a future whose every await is ready (the test's sends and pauses are).
    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => unreachable!("nothing here waits"),
        }
    }

    /// Delivers against answers given in order; returns the outcome, tries and pauses.
    fn against(answers: &[Option<u16>]) -> (Delivery, usize, Vec<u64>) {
        let tries = RefCell::new(0);
        let pauses = RefCell::new(Vec::new());
        let outcome = now(deliver(
            || {
                let answer = answers[*tries.borrow()];
                *tries.borrow_mut() += 1;
                async move { answer }
            },
            |pause| {
                pauses.borrow_mut().push(pause.as_millis() as u64);
                async {}
            },
        ));
        (outcome, tries.into_inner(), pauses.into_inner())
    }

    #[test]
    fn an_accepted_post_is_sent_once() {
        assert_eq!(against(&[Some(204)]), (Delivery::Delivered, 1, vec![]));
    }

    #[test]
    fn a_refusal_is_final() {
        assert_eq!(against(&[Some(401)]), (Delivery::Refused(401), 1, vec![]));
    }

    #[test]
    fn silence_and_server_errors_are_tried_again_after_doubling_pauses() {
        assert_eq!(
            against(&[None, Some(503), Some(200)]),
            (Delivery::Delivered, 3, vec![200, 400])
        );
        assert_eq!(
            against(&[None, Some(500), None, Some(502)]),
            (Delivery::GaveUp, 4, vec![200, 400, 800])
        );
    }
}
