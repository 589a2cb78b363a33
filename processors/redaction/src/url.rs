//! The Collector's `url_sanitizer`: collapses id-like path segments to `*`
//! and drops query strings and fragments, to keep URL cardinality low.
//!
//! A port of the segment walk of grafana/clusterurl that the Collector uses.
//! Its trained "gibberish" model for letter-only segments is not ported:
//! letter-only segments are always kept.

const MAX_SEGMENTS: usize = 10;

#[inline]
fn valid(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, b'-' | b'_' | b'.' | b' ')
}

pub(crate) fn cluster_url(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let orig = path.as_bytes();
    let mut p = orig.to_vec();
    let (mut s_pos, mut s_fwd) = (0usize, 0usize);
    let (mut skip, mut grace) = (false, true);
    let mut segments = 0;
    for &c in orig {
        if matches!(c, b'?' | b'&' | b'#') {
            if skip && s_pos < p.len() {
                p[s_pos] = b'*';
                s_pos += 1;
            } else if !skip && s_fwd > s_pos {
                s_pos = s_fwd;
            }
            p.truncate(s_pos);
            break;
        }
        if c == b'/' {
            segments += 1;
            if skip {
                p[s_pos] = b'*';
                s_pos += 1;
            } else if s_fwd > s_pos {
                s_pos = s_fwd;
            }
            if segments >= MAX_SEGMENTS {
                break;
            }
            p[s_pos] = c;
            s_pos += 1;
            s_fwd = s_pos;
            skip = false;
            grace = true;
        } else if !skip {
            p[s_fwd] = c;
            s_fwd += 1;
            if !valid(c) {
                // One odd character in second place is allowed: `v1`, `v2`.
                if grace && s_fwd - s_pos == 2 {
                    grace = false;
                    continue;
                }
                skip = true;
            }
        }
    }
    if p.is_empty() {
        return String::new();
    }
    if skip {
        if s_pos < p.len() {
            p[s_pos] = b'*';
            s_pos += 1;
        }
    } else if s_fwd > s_pos {
        s_pos = s_fwd;
    }
    p.truncate(s_pos);
    String::from_utf8(p).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The Collector's check that sanitizing did not erase the whole name.
pub(crate) fn fully_redacted(s: &str) -> bool {
    !s.is_empty() && s.split('/').all(|seg| seg.is_empty() || seg == "*") && s.contains('*')
}

#[cfg(test)]
mod tests {
    use super::cluster_url;

    #[test]
    fn collector_examples() {
        assert_eq!(cluster_url("/api/users/123e4567-e89b-12d3-a456-426614174000"), "/api/users/*");
        assert_eq!(cluster_url("/api/users/12345"), "/api/users/*");
        assert_eq!(cluster_url("/api/users/123/posts/456"), "/api/users/*/posts/*");
        assert_eq!(cluster_url("/api/users"), "/api/users");
        assert_eq!(cluster_url("/api/users?id=123&name=john"), "/api/users");
        assert_eq!(cluster_url("/api/v1/users"), "/api/v1/users");
        assert_eq!(cluster_url(""), "");
    }
}
