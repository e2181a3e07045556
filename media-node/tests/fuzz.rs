//! Property tests of what a stranger controls on the signaling socket: every text frame
//! is decoded, and every offer's SDP goes to str0m's parser. Neither may panic the node,
//! and each bad input gets an answer (an error frame), never silence.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use str0m::media::{Direction, MediaKind};
use str0m::Rtc;
use vitrine_core::media_key::CallClaims;
use vitrine_core::protocol::media::*;
use vitrine_media_node::sfu::{Sfu, SfuConfig, SfuOutput};

/// A real offer (audio + video, sending), as a browser would make it.
fn real_offer() -> String {
    str0m::crypto::from_feature_flags().install_process_default();
    let mut rtc = Rtc::new(Instant::now());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _) = change.apply().expect("an offer");
    offer.to_sdp_string()
}

fn joined_sfu() -> (Sfu, Instant) {
    str0m::crypto::from_feature_flags().install_process_default();
    let mut sfu = Sfu::new(SfuConfig {
        candidate: "127.0.0.1:40000".parse().unwrap(),
        connect_timeout: Duration::from_secs(15),
        keyframe_interval: Duration::from_millis(500),
        rejoin_grace: Duration::from_secs(10),
        instance: "fuzz".into(),
    });
    let now = Instant::now();
    let claims = CallClaims {
        site: "s".into(),
        room: "r".into(),
        participant: "p".into(),
        name: "p".into(),
        role: CallRole::Host,
        expires_at: u64::MAX,
    };
    sfu.join(1, claims, now, 0).unwrap();
    sfu.drain_outputs().for_each(drop);
    (sfu, now)
}

/// One edit of an SDP: drop, repeat or rewrite a line, or cut the text short.
#[derive(Debug, Clone)]
enum Edit {
    Drop(usize),
    Repeat(usize),
    Rewrite(usize, String),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Drop),
        any::<usize>().prop_map(Edit::Repeat),
        (any::<usize>(), "[a-z]=[ -~]{0,40}").prop_map(|(i, s)| Edit::Rewrite(i, s)),
        (any::<usize>(), "\\PC{0,40}").prop_map(|(i, s)| Edit::Rewrite(i, s)),
        any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(sdp: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = sdp.split("\r\n").map(str::to_string).collect();
    for edit in edits {
        let n = lines.len().max(1);
        match edit {
            Edit::Drop(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::Repeat(i) if !lines.is_empty() => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Edit::Rewrite(i, s) if !lines.is_empty() => lines[i % n] = s.clone(),
            Edit::Cut(i) => lines.truncate(i % n),
            _ => {}
        }
    }
    lines.join("\r\n")
}

/// The frames the node sent back to conn 1.
fn answers(sfu: &mut Sfu) -> Vec<CallServerFrame> {
    sfu.drain_outputs()
        .filter_map(|o| match o {
            SfuOutput::Signal { conn: 1, frame } => Some(frame),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text decodes to a frame or an error; mutated real frames too.
    #[test]
    fn any_text_frame_decodes_or_is_refused(text in "\\PC{0,200}") {
        let _ = serde_json::from_str::<CallClientFrame>(&text);
    }

    #[test]
    fn mutated_frames_decode_or_are_refused(cut in 0usize..200, insert in "[{}\\[\\]\":,0-9a-z]{0,8}") {
        let frame = serde_json::to_string(&CallClientFrame::Offer {
            sdp: "v=0".into(),
            sources: BTreeMap::from([("0".into(), TrackSource::Microphone)]),
            receive: BTreeMap::from([("1".into(), "host/camera".into())]),
        }).unwrap();
        let at = cut.min(frame.len());
        let text = format!("{}{}{}", &frame[..at], insert, &frame[at..]);
        let _ = serde_json::from_str::<CallClientFrame>(&text);
    }

    /// A mangled offer is answered — with an SDP or with `bad_sdp` — and never panics.
    #[test]
    fn a_mangled_offer_is_answered_or_refused(edits in proptest::collection::vec(edit(), 1..6)) {
        let sdp = apply(&real_offer(), &edits);
        let (mut sfu, now) = joined_sfu();
        let sources = BTreeMap::from([("0".into(), TrackSource::Microphone), ("1".into(), TrackSource::Camera)]);
        sfu.frame(1, CallClientFrame::Offer { sdp, sources, receive: BTreeMap::new() }, now, 0);
        let got = answers(&mut sfu);
        prop_assert!(got.iter().any(|f| matches!(f,
            CallServerFrame::Answer { .. }
            | CallServerFrame::Error { code: MediaErrorCode::BadSdp, .. })), "{got:?}");
        sfu.poll(now, 0);
        sfu.timeout(now + Duration::from_secs(1), 1000);
    }
}

#[test]
fn the_unmangled_offer_is_answered() {
    let (mut sfu, now) = joined_sfu();
    let frame = CallClientFrame::Offer {
        sdp: real_offer(),
        sources: BTreeMap::new(),
        receive: BTreeMap::new(),
    };
    sfu.frame(1, frame, now, 0);
    assert!(answers(&mut sfu)
        .iter()
        .any(|f| matches!(f, CallServerFrame::Answer { .. })));
}
