//! The answer's text, made readable by every client.
//!
//! str0m writes the transport's ICE candidates only in the BUNDLE group's first m-section,
//! as RFC 8843 allows. Some clients read a bundled transport's candidates from another
//! section (aiortc takes the last one: aiortc issue 1437) and never find any, so ICE never
//! starts. Repeating them in every bundled section is valid SDP, and browsers take it.

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
