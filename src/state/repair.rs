//! What a damaged JSON document still says for sure: the longest prefix that ends right after
//! a complete value, with the objects and arrays still open there closed. A truncated
//! state.json (a full disk, a crash, a hand) keeps its first fields this way, and `delete
//! --force` can still find the container's process and cgroups. Pure, and fuzzed.
//!
//! Nothing is ever guessed: a string or number cut in the middle is dropped together with its
//! key, never closed early (a cgroup path cut after `/sys/fs/cgroup/cpu` must not become the
//! parent cgroup). The containers closed here are listed, so that a reader can tell a whole
//! value from one that lost its tail (`/cgroup/dirs/3` lost its end, and `/cgroup/dirs` may
//! lack later elements).

/// Deeper than this, the document is treated as damaged from there on (serde_json's own
/// recursion limit is 128).
const MAX_DEPTH: usize = 64;

/// A repaired document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Valid JSON: the kept prefix and the closing brackets.
    pub json: Vec<u8>,
    /// JSON pointers (`""`, `/cgroup`, `/cgroup/dirs/3`) of the objects and arrays that were
    /// cut and closed here, outermost first; empty when the document was whole.
    pub cut: Vec<String>,
    /// How many bytes of the input were kept.
    pub kept: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// `{` just read: a key or `}`.
    KeyOrEnd,
    /// After `,` in an object.
    Key,
    Colon,
    /// After `:`, or after `[`/`,` in an array.
    Value,
    /// `[` just read: a value or `]`.
    ValueOrEnd,
    CommaOrEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    object: bool,
    expect: Expect,
    /// The member being read: its key in an object, its index in an array.
    key: String,
    index: usize,
}

impl Frame {
    fn segment(&self) -> String {
        if self.object {
            escape_pointer(&self.key)
        } else {
            self.index.to_string()
        }
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Repairs `text`: `None` when not even the opening `{` or `[` of the root is there.
pub fn repair(text: &[u8]) -> Option<Repaired> {
    let mut stack: Vec<Frame> = Vec::new();
    // The last place a cut may be made, and the frames open there.
    let mut cut: Option<(usize, Vec<Frame>)> = None;
    let mut i = 0;
    let n = text.len();
    loop {
        while i < n && matches!(text[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        if i >= n {
            break;
        }
        let c = text[i];
        let expect = stack.last().map(|f| f.expect);
        match c {
            b'{' | b'[' if value_expected(expect, stack.is_empty()) => {
                if stack.len() >= MAX_DEPTH {
                    break;
                }
                let object = c == b'{';
                stack.push(Frame { object, expect: if object { Expect::KeyOrEnd } else { Expect::ValueOrEnd }, key: String::new(), index: 0 });
                i += 1;
                cut = Some((i, stack.clone()));
            }
            b'"' => {
                let Some(end) = string_end(text, i) else { break };
                match expect {
                    Some(Expect::KeyOrEnd | Expect::Key) => {
                        let Ok(key) = serde_json::from_slice::<String>(&text[i..end]) else { break };
                        let top = stack.last_mut().expect("a key is read in an object");
                        top.key = key;
                        top.expect = Expect::Colon;
                        i = end;
                    }
                    e if value_expected(e, stack.is_empty()) => {
                        if serde_json::from_slice::<String>(&text[i..end]).is_err() {
                            break;
                        }
                        i = end;
                        if complete(&mut stack, i, &mut cut) {
                            return Some(whole(text, i));
                        }
                    }
                    _ => break,
                }
            }
            b':' if expect == Some(Expect::Colon) => {
                stack.last_mut().expect("a colon is read in an object").expect = Expect::Value;
                i += 1;
            }
            b',' if expect == Some(Expect::CommaOrEnd) => {
                let top = stack.last_mut().expect("a comma is read in a container");
                if top.object {
                    top.expect = Expect::Key;
                } else {
                    top.expect = Expect::Value;
                    top.index += 1;
                }
                i += 1;
            }
            b'}' | b']' => {
                let Some(top) = stack.last() else { break };
                let closes = if c == b'}' {
                    top.object && matches!(top.expect, Expect::KeyOrEnd | Expect::CommaOrEnd)
                } else {
                    !top.object && matches!(top.expect, Expect::ValueOrEnd | Expect::CommaOrEnd)
                };
                if !closes {
                    break;
                }
                stack.pop();
                i += 1;
                if complete(&mut stack, i, &mut cut) {
                    return Some(whole(text, i));
                }
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' if value_expected(expect, stack.is_empty()) => {
                let start = i;
                while i < n && matches!(text[i], b'-' | b'+' | b'.' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z') {
                    i += 1;
                }
                // At the very end a number may have lost digits (`12` of `123`): not complete.
                if i >= n || serde_json::from_slice::<serde_json::Value>(&text[start..i]).is_err() {
                    break;
                }
                if complete(&mut stack, i, &mut cut) {
                    return Some(whole(text, i));
                }
            }
            _ => break,
        }
    }
    let (at, open) = cut?;
    let mut json = text[..at].to_vec();
    for f in open.iter().rev() {
        json.push(if f.object { b'}' } else { b']' });
    }
    let mut pointers = Vec::with_capacity(open.len());
    let mut p = String::new();
    for k in 0..open.len() {
        if k > 0 {
            p.push('/');
            p.push_str(&open[k - 1].segment());
        }
        pointers.push(p.clone());
    }
    Some(Repaired { json, cut: pointers, kept: at })
}

fn whole(text: &[u8], end: usize) -> Repaired {
    Repaired { json: text[..end].to_vec(), cut: vec![], kept: end }
}

/// Whether a value may start here (at the root only before anything was read).
fn value_expected(expect: Option<Expect>, root: bool) -> bool {
    match expect {
        None => root,
        Some(e) => matches!(e, Expect::Value | Expect::ValueOrEnd),
    }
}

/// A value ended at `at`: the frame it belongs to moves on, and a cut may be made here. True
/// when it was the root (the document is whole up to `at`).
fn complete(stack: &mut [Frame], at: usize, cut: &mut Option<(usize, Vec<Frame>)>) -> bool {
    let Some(top) = stack.last_mut() else { return true };
    top.expect = Expect::CommaOrEnd;
    *cut = Some((at, stack.to_vec()));
    false
}

/// The index just past the closing quote of the string starting at `start`.
fn string_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(s: &str) -> (String, Vec<String>) {
        let r = repair(s.as_bytes()).unwrap();
        (String::from_utf8(r.json).unwrap(), r.cut)
    }

    #[test]
    fn a_whole_document_is_kept_as_it_is() {
        assert_eq!(rep(r#"{"a":1,"b":[1,2]}"#), (r#"{"a":1,"b":[1,2]}"#.into(), vec![]));
        assert_eq!(rep(" [ ] "), (" [ ]".into(), vec![]));
    }

    #[test]
    fn a_cut_string_or_number_is_dropped_with_its_key() {
        assert_eq!(rep(r#"{"id":"c1","path":"/sys/fs/cgr"#).0, r#"{"id":"c1"}"#);
        assert_eq!(rep(r#"{"id":"c1","pid":12"#).0, r#"{"id":"c1"}"#);
        assert_eq!(rep(r#"{"id":"c1","pid":12,"#).0, r#"{"id":"c1","pid":12}"#);
        assert_eq!(rep(r#"{"id":"c1","pid""#).0, r#"{"id":"c1"}"#);
        assert_eq!(rep(r#"{"ok":tru"#).0, r#"{}"#);
        assert_eq!(rep(r#"{"s":"a\"b"#).0, r#"{}"#);
    }

    #[test]
    fn open_containers_are_closed_and_named() {
        let (json, cut) = rep(r#"{"id":"c","cgroup":{"dirs":[{"path":"/a","v2":false},{"path":"/b","mount":"/"#);
        assert_eq!(json, r#"{"id":"c","cgroup":{"dirs":[{"path":"/a","v2":false},{"path":"/b"}]}}"#);
        assert_eq!(cut, ["", "/cgroup", "/cgroup/dirs", "/cgroup/dirs/1"]);
        let (json, cut) = rep(r#"{"a/b~":[[1,"#);
        assert_eq!(json, r#"{"a/b~":[[1]]}"#);
        assert_eq!(cut, ["", "/a~1b~0", "/a~1b~0/0"]);
    }

    #[test]
    fn damage_in_the_middle_cuts_there() {
        assert_eq!(rep(r#"{"a":1,"b":2 x "c":3}"#).0, r#"{"a":1,"b":2}"#);
        assert_eq!(rep(r#"{"a":1,,"b":2}"#).0, r#"{"a":1}"#);
        assert_eq!(rep("{\"a\":1,\"b\":\"\u{1}\"}").0, r#"{"a":1}"#);
        assert_eq!(rep(r#"{"a":1]"#).0, r#"{"a":1}"#);
    }

    #[test]
    fn nothing_to_keep() {
        for s in ["", "   ", "x", "12", "\"cut", "}"] {
            assert_eq!(repair(s.as_bytes()), None, "{s:?}");
        }
        assert_eq!(rep("\"whole\" trailing").0, "\"whole\"");
    }

    #[test]
    fn every_prefix_of_a_document_repairs_to_valid_json() {
        let doc = r#"{"stateVersion":1,"id":"c1","pid":4242,"initStartTime":98765,"ownPidNs":true,"cgroup":{"dirs":[{"path":"/sys/fs/cgroup/cpu/c1","mount":"/sys/fs/cgroup/cpu","controllers":["cpu"]},{"path":"/sys/fs/cgroup/unified/c1","mount":"/sys/fs/cgroup/unified","v2":true}]},"status":"created","annotations":{"a\"b":"x\\y"},"hooks":{"poststop":[{"path":"/bin/true","args":["true"],"env":[]}]}}"#;
        let full: serde_json::Value = serde_json::from_str(doc).unwrap();
        for k in 1..=doc.len() {
            let r = repair(&doc.as_bytes()[..k]).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&r.json).unwrap_or_else(|e| panic!("prefix {k}: {e}: {}", String::from_utf8_lossy(&r.json)));
            // everything kept is what the whole document says
            if let Some(pid) = v.get("pid") {
                assert_eq!(pid, &full["pid"], "prefix {k}");
            }
            for (i, d) in v.pointer("/cgroup/dirs").and_then(|d| d.as_array()).into_iter().flatten().enumerate() {
                if let Some(p) = d.get("path") {
                    assert_eq!(p, &full["cgroup"]["dirs"][i]["path"], "prefix {k}");
                }
            }
            assert_eq!(r.cut.is_empty(), k == doc.len(), "prefix {k}");
        }
    }
}
