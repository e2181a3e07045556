//! SDP text the node reads or rewrites itself: the sections of a WHIP/WHEP offer, and the
//! answer made readable by every client.
//!
//! str0m writes the transport's ICE candidates only in the BUNDLE group's first m-section,
//! as RFC 8843 allows. Some clients read a bundled transport's candidates from another
//! section (aiortc takes the last one: aiortc issue 1437) and never find any, so ICE never
//! starts. Repeating them in every bundled section is valid SDP, and browsers take it.

use vitrine_core::protocol::media::TrackSource;

/// `sdp` with the candidate lines (and `a=end-of-candidates`) of the section that has
/// them copied into every other section of the BUNDLE group that lacks them.
pub fn candidates_in_every_bundled_section(sdp: &str) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = sdp.split(eol).collect();
    // Sections: [start, end) line ranges, the session part first.
    let mut starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("m="))
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() {
        return sdp.to_string();
    }
    starts.push(lines.len());
    let bundled: Vec<&str> = lines[..starts[0]]
        .iter()
        .find_map(|l| l.strip_prefix("a=group:BUNDLE "))
        .map(|mids| mids.split_whitespace().collect())
        .unwrap_or_default();
    let is_candidate = |l: &&str| l.starts_with("a=candidate:") || *l == "a=end-of-candidates";
    let sections: Vec<&[&str]> = starts.windows(2).map(|w| &lines[w[0]..w[1]]).collect();
    let mid = |s: &[&str]| {
        s.iter()
            .find_map(|l| l.strip_prefix("a=mid:"))
            .map(str::to_string)
    };
    let Some(candidates) = sections
        .iter()
        .find(|s| s.iter().any(|l| l.starts_with("a=candidate:")))
        .map(|s| {
            s.iter()
                .copied()
                .filter(is_candidate)
                .collect::<Vec<&str>>()
        })
    else {
        return sdp.to_string();
    };
    let mut out: Vec<&str> = lines[..starts[0]].to_vec();
    for section in sections {
        // A trailing empty "line" (the text ends with a line break) stays last.
        let (body, tail) = match section.last() {
            Some(&"") => (&section[..section.len() - 1], &section[section.len() - 1..]),
            _ => (section, &section[section.len()..]),
        };
        out.extend_from_slice(body);
        let in_bundle = mid(body).is_some_and(|m| bundled.contains(&m.as_str()));
        if in_bundle && !body.iter().any(|l| l.starts_with("a=candidate:")) {
            out.extend_from_slice(&candidates);
        }
        out.extend_from_slice(tail);
    }
    out.join(eol)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=candidate:1 1 udp 2130706175 10.0.0.1 5000 typ host\r\na=end-of-candidates\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n\
        m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";

    #[test]
    fn every_bundled_section_carries_the_candidates_and_others_stay_as_they_are() {
        let out = candidates_in_every_bundled_section(ANSWER);
        let video = &out[out.find("m=video").unwrap()..out.find("m=application").unwrap()];
        assert!(
            video.contains(
                "a=candidate:1 1 udp 2130706175 10.0.0.1 5000 typ host\r\na=end-of-candidates\r\n"
            ),
            "{out}"
        );
        // Not in the bundle (rejected): untouched.
        assert!(!out[out.find("m=application").unwrap()..].contains("a=candidate"));
        assert_eq!(out.matches("a=candidate:").count(), 2);
        assert!(out.ends_with("a=mid:2\r\n"));
        // Already everywhere: nothing changes.
        assert_eq!(candidates_in_every_bundled_section(&out), out);
    }
}

/// What each audio/video section of an offer carries, for clients that cannot say
/// (WHIP publishers, WHEP viewers): the first audio section is the microphone, the first
/// video section the camera, the second the screen; other sections carry nothing.
pub fn sources_by_section(sdp: &str) -> Vec<(String, TrackSource)> {
    let mut out = Vec::new();
    let (mut audio, mut video) = (0, 0);
    let mut kind = None;
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            kind = rest.split_whitespace().next().map(str::to_string);
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            let source = match kind.as_deref() {
                Some("audio") => {
                    audio += 1;
                    (audio == 1).then_some(TrackSource::Microphone)
                }
                Some("video") => {
                    video += 1;
                    [TrackSource::Camera, TrackSource::Screen]
                        .get(video - 1)
                        .copied()
                }
                _ => None,
            };
            if let Some(source) = source {
                out.push((mid.trim().to_string(), source));
            }
        }
    }
    out
}

#[cfg(test)]
mod sections {
    use super::*;

    #[test]
    fn sections_are_given_sources_by_kind_and_order() {
        let sdp = "v=0\r\nm=audio 9 X 111\r\na=mid:a0\r\nm=video 9 X 96\r\na=mid:v0\r\n\
                   m=audio 9 X 111\r\na=mid:a1\r\nm=video 9 X 96\r\na=mid:v1\r\n\
                   m=application 9 X webrtc-datachannel\r\na=mid:d\r\nm=video 9 X 96\r\na=mid:v2\r\n";
        assert_eq!(
            sources_by_section(sdp),
            vec![
                ("a0".to_string(), TrackSource::Microphone),
                ("v0".to_string(), TrackSource::Camera),
                ("v1".to_string(), TrackSource::Screen),
            ]
        );
    }
}
