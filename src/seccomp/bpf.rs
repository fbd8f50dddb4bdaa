//! The classic-BPF side: the few instructions a seccomp filter needs, and the layout of rt's
//! program. Argument comparisons come from seccompiler (see `rule_block`); the rest is here
//! because seccompiler builds one architecture and one match action per filter.
//!
//! ```text
//!   ld arch; jeq X86_64 → group; jeq I386 → group; ret BADARCH
//!   group:  ld nr; binary search over the ranges of nr → ret ACTION | argument rules
//! ```
//!
//! Each group's syscall numbers are cut into ranges of one outcome (ALLOW for 0–2, the default
//! for 3, ...; ENOSYS above the profile's newest call), and the ranges are found by a balanced
//! tree of `jge` tests. For containers-common's profile that is 717 instructions for the three
//! ABIs, of which a call runs at most 13 (22 for socket, whose arguments are checked); a chain
//! of one `jeq` per call is 1806 and runs up to 455. The chain also costs the kernel: it runs
//! the filter once per syscall number of x86_64 and of x86 when it loads it (for its action
//! cache), and the load measured 0.9–1.0 ms against 0.14–0.17 ms for the tree (host_tests,
//! `loading_the_default_profile_is_cheap`).

use seccompiler::{sock_filter, BpfProgram, SeccompCmpArgLen, SeccompCondition, SeccompRule};

// linux/bpf_common.h
/// BPF_LD | BPF_W | BPF_ABS
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = BPF_JMP;
const BPF_JEQ_K: u16 = BPF_JMP | 0x10;
const BPF_JGE_K: u16 = BPF_JMP | 0x30;
const BPF_RET_K: u16 = 0x06;

/// `struct seccomp_data`: nr, arch, instruction_pointer, args[6].
pub const OFFSET_NR: u32 = 0;
pub const OFFSET_ARCH: u32 = 4;

/// The kernel's limit (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

pub fn ret(k: u32) -> sock_filter {
    stmt(BPF_RET_K, k)
}

/// One argument comparison, as libseccomp does it: `(arg & mask) <op> value`, where only
/// MASKED_EQ has a mask other than all ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCmp {
    pub index: u8,
    pub op: seccompiler::SeccompCmpOp,
    pub value: u64,
}

/// The calls of one syscall number that depend on arguments: the first rule whose
/// comparisons all hold gives its action; none does, `fallback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub rules: Vec<(Vec<ArgCmp>, u32)>,
    pub fallback: u32,
    pub args_32bit: bool,
}

/// What a range of syscall numbers gets. (Boxed rules keep the per-number tables of
/// `rules` small: rt's allocator never reuses memory.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ret(u32),
    Rules(Box<Rules>),
}

/// `start..` up to the next range's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub start: u32,
    pub outcome: Outcome,
}

/// The syscalls of one `seccomp_data.arch` value; `ranges` start at 0 and cover every `nr`.
pub struct Group {
    pub audit_arch: u32,
    pub ranges: Vec<Range>,
}

/// The whole program: dispatch on the architecture, then each group's search.
pub fn program(groups: &[Group], bad_arch: u32) -> Result<BpfProgram, seccompiler::BackendError> {
    let mut bodies = Vec::with_capacity(groups.len());
    for g in groups {
        // Room for all of it up front: a Vec that grows after another allocation is copied,
        // and rt's allocator keeps every old copy.
        let mut body = Vec::with_capacity(room(&g.ranges));
        body.push(stmt(BPF_LD_W_ABS, OFFSET_NR));
        search(&mut body, &g.ranges)?;
        bodies.push(body);
    }
    // `jeq arch, 0, 1; ja body` per group: a body can be further away than 255.
    let n = groups.len();
    let mut out = Vec::with_capacity(2 * n + 2 + bodies.iter().map(Vec::len).sum::<usize>());
    out.push(stmt(BPF_LD_W_ABS, OFFSET_ARCH));
    let mut before = 0;
    for (i, (g, body)) in groups.iter().zip(&bodies).enumerate() {
        out.push(jump(BPF_JEQ_K, g.audit_arch, 0, 1));
        // from the `ja` (at 2 + 2i) over the other tests and `ret` (2n + 2 is the first body)
        out.push(stmt(BPF_JA, (2 * (n - i) - 1 + before) as u32));
        before += body.len();
    }
    out.push(ret(bad_arch));
    for b in bodies {
        out.extend(b);
    }
    Ok(out)
}

/// About how long a group's body will be: a test per range, each leaf, a few long jumps.
fn room(ranges: &[Range]) -> usize {
    let leaf = |o: &Outcome| match o {
        Outcome::Ret(_) => 1,
        // seccompiler: two jumps per rule and at most 6 instructions per comparison; our `ret`s
        Outcome::Rules(r) => 1 + r.rules.iter().map(|(c, _)| 3 + 6 * c.len()).sum::<usize>(),
    };
    16 + ranges.iter().map(|r| 1 + leaf(&r.outcome)).sum::<usize>()
}

/// A balanced tree of `jge` over the range starts; each leaf is inline and ends in `ret`, so
/// every subtree is self-contained and only a test's own `jt` can need more than 8 bits.
fn search(out: &mut Vec<sock_filter>, ranges: &[Range]) -> Result<(), seccompiler::BackendError> {
    if let [only] = ranges {
        return leaf(out, &only.outcome);
    }
    let mid = ranges.len() / 2;
    let at = out.len();
    out.push(jump(BPF_JGE_K, ranges[mid].start, 0, 0));
    search(out, &ranges[..mid])?;
    let below = out.len() - at - 1;
    match u8::try_from(below) {
        Ok(jt) => out[at].jt = jt,
        Err(_) => {
            // jt = 0 lands on a `ja` over the lower half; jf = 1 steps over it.
            out[at].jf = 1;
            out.insert(at + 1, stmt(BPF_JA, below as u32));
        }
    }
    search(out, &ranges[mid..])
}

fn leaf(out: &mut Vec<sock_filter>, outcome: &Outcome) -> Result<(), seccompiler::BackendError> {
    match outcome {
        Outcome::Ret(k) => out.push(ret(*k)),
        Outcome::Rules(r) => {
            for (cmps, action) in &r.rules {
                out.extend(rule_block(cmps, r.args_32bit)?);
                out.push(ret(*action));
            }
            out.push(ret(r.fallback));
        }
    }
    Ok(())
}

/// seccompiler's code for a rule's comparisons (the high and low words of 64-bit arguments,
/// or only the low one): it falls through when all hold and otherwise jumps past the
/// instruction that follows it, the rule's `ret`.
fn rule_block(cmps: &[ArgCmp], args_32bit: bool) -> Result<BpfProgram, seccompiler::BackendError> {
    let len = if args_32bit { SeccompCmpArgLen::Dword } else { SeccompCmpArgLen::Qword };
    let conditions = cmps.iter().map(|c| SeccompCondition::new(c.index, len.clone(), c.op.clone(), c.value)).collect::<Result<Vec<_>, _>>()?;
    Ok(SeccompRule::new(conditions)?.into())
}
