//! Device access rules (pure): `linux.resources.devices` → v1 `devices.allow`/`devices.deny`
//! writes, or the v2 eBPF program.
//!
//! What rt enforces is what runc enforces: an implicit "deny everything" first, then the
//! config's rules in order, then runc's default allow-list (mknod of anything; /dev/null, zero,
//! full, random, urandom, tty, ptmx, pts/*, net/tun) — runc appends that list to every container
//! (libcontainer/specconv AllowedDevices), and engines rely on it.
//!
//! Both versions go through an emulator of the v1 kernel semantics, so that v1 and v2 behave the
//! same: a rule of type `a` resets to allow-all or deny-all; in deny-all mode an allow rule adds
//! an exception and a deny rule removes access from the exception with the same type and numbers;
//! in allow-all mode the other way round. A deny that would have to punch a hole in a wildcard
//! exception is refused (the v1 kernel silently ignores it; runc refuses it too).
//!
//! The check the kernel makes (v1), which the v2 program reproduces: in deny-all mode an access
//! is allowed when one exception matches type and numbers and holds every access bit asked for;
//! in allow-all mode it is denied when one exception matches and shares any access bit with it.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::bpf::{self, Insn};
use super::resources::{invalid, Ver, Write};
use crate::error::Result;

/// BPF_DEVCG_ACC_* bits, used for both versions.
pub const MKNOD: u8 = 1;
pub const READ: u8 = 2;
pub const WRITE: u8 = 4;
pub const RWM: u8 = MKNOD | READ | WRITE;

/// b or c (a rule of type a is a reset, never an exception).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevType {
    Block,
    Char,
}

impl DevType {
    fn letter(self) -> char {
        match self {
            DevType::Block => 'b',
            DevType::Char => 'c',
        }
    }
    /// BPF_DEVCG_DEV_BLOCK / BPF_DEVCG_DEV_CHAR.
    fn bpf(self) -> i32 {
        match self {
            DevType::Block => 1,
            DevType::Char => 2,
        }
    }
}

/// One rule, checked: `typ` None is `a` (all devices); `major`/`minor` None is `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub typ: Option<DevType>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

const fn c(major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
    Rule { allow: true, typ: Some(DevType::Char), major, minor, access }
}

/// runc's AllowedDevices, in its order.
pub const DEFAULT_ALLOWED: [Rule; 11] = [
    c(None, None, MKNOD),
    Rule { allow: true, typ: Some(DevType::Block), major: None, minor: None, access: MKNOD },
    c(Some(1), Some(3), RWM),    // /dev/null
    c(Some(1), Some(8), RWM),    // /dev/random
    c(Some(1), Some(7), RWM),    // /dev/full
    c(Some(5), Some(0), RWM),    // /dev/tty
    c(Some(1), Some(5), RWM),    // /dev/zero
    c(Some(1), Some(9), RWM),    // /dev/urandom
    c(Some(136), None, RWM),     // /dev/pts/*
    c(Some(5), Some(2), RWM),    // /dev/ptmx
    c(Some(10), Some(200), RWM), // /dev/net/tun
];

/// Checks one spec entry.
pub fn parse(i: usize, d: &LinuxDeviceCgroup) -> Result<Rule> {
    let field = format!("linux.resources.devices[{i}]");
    let typ = match d.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some(DevType::Block),
        Some(LinuxDeviceType::C) => Some(DevType::Char),
        Some(t) => return Err(invalid(format!("{field}.type"), format!("{:?} is not a cgroup device type (a, b or c)", t.as_str()))),
    };
    let number = |name: &str, v: Option<i64>| -> Result<Option<u32>> {
        match v {
            None | Some(-1) => Ok(None),
            // The eBPF program compares with 32-bit immediates; real majors have 12 bits and
            // minors 20.
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
            Some(n) => Err(invalid(format!("{field}.{name}"), format!("{n} is not a device number"))),
        }
    };
    let major = number("major", d.major())?;
    let minor = number("minor", d.minor())?;
    let access = match (typ, d.access().as_deref()) {
        // `a` means every device and every access: the access string does not matter.
        (None, _) => RWM,
        (Some(_), None | Some("")) => return Err(invalid(format!("{field}.access"), "is empty (a combination of r, w and m)")),
        (Some(_), Some(s)) => {
            let mut bits = 0;
            for ch in s.chars() {
                bits |= match ch {
                    'r' => READ,
                    'w' => WRITE,
                    'm' => MKNOD,
                    _ => return Err(invalid(format!("{field}.access"), format!("{s:?} is not a combination of r, w and m"))),
                };
            }
            bits
        }
    };
    Ok(Rule { allow: d.allow(), typ, major, minor, access })
}

/// An exception of the emulated v1 devices cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub typ: DevType,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Exception {
    fn same_device(&self, typ: DevType, major: Option<u32>, minor: Option<u32>) -> bool {
        self.typ == typ && self.major == major && self.minor == minor
    }
    fn matches(&self, typ: DevType, major: u32, minor: u32) -> bool {
        self.typ == typ && self.major.is_none_or(|m| m == major) && self.minor.is_none_or(|m| m == minor)
    }
    /// The v1 line: `c 1:3 rwm`, `c 136:* rwm`.
    pub fn line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_owned(), |v| v.to_string());
        format!("{} {}:{} {}", self.typ.letter(), n(self.major), n(self.minor), access_str(self.access))
    }
}

pub fn access_str(bits: u8) -> String {
    let mut s = String::new();
    if bits & READ != 0 {
        s.push('r');
    }
    if bits & WRITE != 0 {
        s.push('w');
    }
    if bits & MKNOD != 0 {
        s.push('m');
    }
    s
}

/// The state of a v1 devices cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulator {
    pub default_allow: bool,
    pub exceptions: Vec<Exception>,
}

impl Emulator {
    /// Deny-all, no exceptions: where runc starts every container.
    pub fn deny_all() -> Emulator {
        Emulator { default_allow: false, exceptions: Vec::new() }
    }

    pub fn apply(&mut self, r: &Rule) -> Result<(), String> {
        let Some(typ) = r.typ else {
            *self = Emulator { default_allow: r.allow, exceptions: Vec::new() };
            return Ok(());
        };
        // An allow in allow-all mode, or a deny in deny-all mode, removes access.
        if r.allow == self.default_allow {
            for e in &self.exceptions {
                let wider = e.typ == typ && (e.major.is_none() || e.minor.is_none()) && !e.same_device(typ, r.major, r.minor);
                let covers = e.major.is_none_or(|m| Some(m) == r.major) && e.minor.is_none_or(|m| Some(m) == r.minor);
                if wider && covers && e.access & r.access != 0 {
                    return Err(format!(
                        "cannot {} {} inside the wildcard rule {:?}: cgroup v1 cannot express it",
                        if r.allow { "allow" } else { "deny" },
                        Exception { typ, major: r.major, minor: r.minor, access: r.access }.line(),
                        e.line()
                    ));
                }
            }
            self.exceptions.retain_mut(|e| {
                if e.same_device(typ, r.major, r.minor) {
                    e.access &= !r.access;
                }
                e.access != 0
            });
        } else if let Some(e) = self.exceptions.iter_mut().find(|e| e.same_device(typ, r.major, r.minor)) {
            e.access |= r.access;
        } else {
            self.exceptions.push(Exception { typ, major: r.major, minor: r.minor, access: r.access });
        }
        Ok(())
    }

    /// The kernel's v1 check for one access (`access` is a set of bits).
    pub fn allows(&self, typ: DevType, major: u32, minor: u32, access: u8) -> bool {
        if self.default_allow {
            !self.exceptions.iter().any(|e| e.matches(typ, major, minor) && e.access & access != 0)
        } else {
            self.exceptions.iter().any(|e| e.matches(typ, major, minor) && access & !e.access == 0)
        }
    }
}

/// Deny-all, the config's rules, runc's defaults.
pub fn effective(rules: &[LinuxDeviceCgroup]) -> Result<Emulator> {
    let mut emu = Emulator::deny_all();
    for (i, d) in rules.iter().enumerate() {
        let r = parse(i, d)?;
        emu.apply(&r).map_err(|e| invalid(format!("linux.resources.devices[{i}]"), e))?;
    }
    // runc's additions never fail a container: one that would punch a hole in a wildcard deny
    // of the config is left out (and `apply` changes nothing when it refuses), so the
    // config's rule stands.
    for r in &DEFAULT_ALLOWED {
        let _ = emu.apply(r);
    }
    Ok(emu)
}

/// v1: reset the new cgroup (which inherited its parent's list) to the mode, then add each
/// exception — the fewest writes that give the emulated state.
pub fn v1_writes(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Write>> {
    let emu = effective(rules)?;
    const F: &str = "linux.resources.devices";
    let (mode_file, exc_file) = if emu.default_allow { ("devices.allow", "devices.deny") } else { ("devices.deny", "devices.allow") };
    let mut w = vec![Write::new(Ver::V1, "devices", mode_file, "a", F)];
    for e in &emu.exceptions {
        w.push(Write::new(Ver::V1, "devices", exc_file, e.line(), F));
    }
    Ok(w)
}

/// v2: the program for `BPF_PROG_TYPE_CGROUP_DEVICE`. Its context is
/// `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` with
/// `access_type = access << 16 | type`; it returns 1 to allow, 0 to deny.
///
/// ```text
///   r2 = ctx->access_type & 0xffff      type
///   r3 = ctx->access_type >> 16         access
///   r4 = ctx->major;  r5 = ctx->minor
///   for each exception:                 every test jumps to the next block when it fails
///     if r2 != TYPE                   goto next
///     allow-exception: if (r3 & ACC) != r3 goto next     (all bits asked for are granted)
///     deny-exception:  if (r3 & ACC) == 0  goto next     (any bit asked for is denied)
///     if r4 != MAJOR                  goto next          (unless *)
///     if r5 != MINOR                  goto next          (unless *)
///     return !default
///   return default
/// ```
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    Ok(program_for(&effective(rules)?))
}

pub fn program_for(emu: &Emulator) -> Vec<Insn> {
    use bpf::{R0, R1, R2, R3, R4, R5};
    let mut p =
        vec![bpf::ldx_w(R2, R1, 0), bpf::and32_imm(R2, 0xffff), bpf::ldx_w(R3, R1, 0), bpf::rsh32_imm(R3, 16), bpf::ldx_w(R4, R1, 4), bpf::ldx_w(R5, R1, 8)];
    let verdict = i32::from(!emu.default_allow);
    for e in &emu.exceptions {
        // Each test is a jump over the rest of the block; build the block, then fix offsets.
        enum T {
            Jne(u8, i32),
            JneReg(u8, u8),
            Jeq(u8, i32),
            Plain(Insn),
        }
        let mut block: Vec<T> = vec![T::Jne(R2, e.typ.bpf())];
        if e.access != RWM {
            block.push(T::Plain(bpf::mov32_reg(R1, R3)));
            block.push(T::Plain(bpf::and32_imm(R1, i32::from(e.access))));
            block.push(if emu.default_allow { T::Jeq(R1, 0) } else { T::JneReg(R1, R3) });
        }
        if let Some(m) = e.major {
            block.push(T::Jne(R4, m as i32));
        }
        if let Some(m) = e.minor {
            block.push(T::Jne(R5, m as i32));
        }
        block.push(T::Plain(bpf::mov32_imm(R0, verdict)));
        block.push(T::Plain(bpf::exit()));
        let len = block.len();
        for (i, t) in block.into_iter().enumerate() {
            let skip = (len - i - 1) as i16;
            p.push(match t {
                T::Jne(r, imm) => bpf::jne_imm(r, imm, skip),
                T::JneReg(a, b) => bpf::jne_reg(a, b, skip),
                T::Jeq(r, imm) => bpf::jeq_imm(r, imm, skip),
                T::Plain(i) => i,
            });
        }
    }
    p.push(bpf::mov32_imm(R0, i32::from(emu.default_allow)));
    p.push(bpf::exit());
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::bpf::interpret;

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    fn lines(json: &str) -> Vec<(String, String)> {
        v1_writes(&rules(json)).unwrap().into_iter().map(|w| (w.file, w.value)).collect()
    }

    fn s(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    const DEFAULT_LINES: [&str; 11] =
        ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"];

    #[test]
    fn no_rules_is_deny_all_plus_runc_defaults() {
        let mut want = vec![s("devices.deny", "a")];
        want.extend(DEFAULT_LINES.iter().map(|l| s("devices.allow", l)));
        assert_eq!(lines("[]"), want);
    }

    #[test]
    fn docker_like_rules_merge_with_defaults() {
        let j = r#"[{"allow":false,"access":"rwm"},
                    {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                    {"allow":true,"type":"c","major":4,"minor":1,"access":"rw"},
                    {"allow":true,"type":"c","major":1,"minor":3,"access":"r"}]"#;
        let got = lines(j);
        assert_eq!(got[0], s("devices.deny", "a"));
        assert_eq!(got[1], s("devices.allow", "c 1:3 rwm"));
        assert_eq!(got[2], s("devices.allow", "c 4:1 rw"));
        // /dev/null appears once: identical devices merge.
        assert_eq!(got.iter().filter(|l| l.1 == "c 1:3 rwm").count(), 1);
        assert_eq!(got.len(), 1 + 2 + 10);
    }

    #[test]
    fn privileged_allow_all_is_one_write() {
        assert_eq!(lines(r#"[{"allow":true,"access":"rwm"}]"#), [s("devices.allow", "a")]);
    }

    #[test]
    fn deny_after_allow_removes_access() {
        let emu =
            effective(&rules(r#"[{"allow":true,"type":"c","major":4,"minor":1,"access":"rwm"},{"allow":false,"type":"c","major":4,"minor":1,"access":"w"}]"#))
                .unwrap();
        assert_eq!(emu.exceptions[0].line(), "c 4:1 rm");
        assert!(emu.allows(DevType::Char, 4, 1, READ));
        assert!(!emu.allows(DevType::Char, 4, 1, READ | WRITE));
    }

    #[test]
    fn punching_a_hole_in_a_wildcard_is_refused() {
        let e = effective(&rules(r#"[{"allow":true,"type":"c","major":4,"access":"rwm"},{"allow":false,"type":"c","major":4,"minor":1,"access":"w"}]"#))
            .unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.devices[1]: cannot deny c 4:1 w inside the wildcard rule \"c 4:* rwm\": cgroup v1 cannot express it");
    }

    #[test]
    fn allow_all_then_deny_one() {
        let emu = effective(&rules(r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"b","major":8,"minor":0,"access":"w"}]"#)).unwrap();
        assert!(emu.default_allow);
        assert!(emu.allows(DevType::Block, 8, 0, READ));
        // Partial overlap is enough to deny in allow-all mode (the v1 kernel's rule).
        assert!(!emu.allows(DevType::Block, 8, 0, READ | WRITE));
        assert!(emu.allows(DevType::Block, 8, 1, WRITE));
        assert_eq!(
            lines(r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"b","major":8,"minor":0,"access":"w"}]"#),
            [s("devices.allow", "a"), s("devices.deny", "b 8:0 w")]
        );
    }

    #[test]
    fn defaults_do_not_undo_a_wildcard_deny() {
        // Allow-all, then deny every char device of major 10: runc's default "c 10:200 rwm"
        // would punch a hole in it; it is left out instead of failing the container.
        let emu = effective(&rules(r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":10,"access":"rwm"}]"#)).unwrap();
        assert!(!emu.allows(DevType::Char, 10, 200, READ));
        // A default that matches an exact deny does undo it, as in runc (v1 semantics).
        let emu = effective(&rules(r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":5,"access":"r"}]"#)).unwrap();
        assert!(emu.allows(DevType::Char, 1, 5, READ));
    }

    #[test]
    fn parse_errors_name_the_field() {
        let e = effective(&rules(r#"[{"allow":true,"type":"c","major":1,"minor":3}]"#)).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.devices[0].access: is empty (a combination of r, w and m)");
        let e = effective(&rules(r#"[{"allow":true,"type":"c","access":"rx"}]"#)).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.devices[0].access: \"rx\" is not a combination of r, w and m");
        let e = effective(&rules(r#"[{"allow":true,"type":"u","access":"r"}]"#)).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.devices[0].type: \"u\" is not a cgroup device type (a, b or c)");
        let e = effective(&rules(r#"[{"allow":true,"type":"c","major":-2,"access":"r"}]"#)).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.devices[0].major: -2 is not a device number");
        // -1 is the wildcard, and type a ignores access.
        assert!(effective(&rules(r#"[{"allow":true,"type":"c","major":-1,"access":"r"},{"allow":false}]"#)).is_ok());
    }

    /// Every device/access combination: the eBPF program (run by a small interpreter) decides
    /// exactly as the v1 kernel would.
    fn agrees(emu: &Emulator) {
        let prog = program_for(emu);
        for typ in [DevType::Block, DevType::Char] {
            for major in [0u32, 1, 4, 5, 8, 10, 136, 250] {
                for minor in [0u32, 1, 2, 3, 5, 7, 8, 9, 200] {
                    for access in 1..=7u8 {
                        let ctx = [(u32::from(access) << 16) | typ.bpf() as u32, major, minor];
                        let got = interpret(&prog, ctx);
                        assert_eq!(got == 1, emu.allows(typ, major, minor, access), "{:?} {major}:{minor} {} in {emu:?}", typ, access_str(access));
                    }
                }
            }
        }
    }

    #[test]
    fn bpf_program_matches_v1_semantics() {
        for j in [
            "[]",
            r#"[{"allow":true,"access":"rwm"}]"#,
            r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"b","major":8,"minor":0,"access":"w"},{"allow":false,"type":"c","major":10,"access":"rm"}]"#,
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"r"},{"allow":true,"type":"b","minor":1,"access":"rw"}]"#,
            r#"[{"allow":true,"type":"c","major":136,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":5,"access":"rwm"}]"#,
        ] {
            agrees(&effective(&rules(j)).unwrap());
        }
    }

    #[test]
    fn bpf_program_shape() {
        let emu = Emulator { default_allow: false, exceptions: vec![Exception { typ: DevType::Char, major: Some(1), minor: Some(3), access: RWM }] };
        let p = program_for(&emu);
        // 6 prologue + (jne type, jne major, jne minor, mov, exit) + (mov, exit).
        assert_eq!(p.len(), 6 + 5 + 2);
        assert_eq!(p[6], bpf::jne_imm(bpf::R2, 2, 4));
        assert_eq!(p[7], bpf::jne_imm(bpf::R4, 1, 3));
        assert_eq!(p[8], bpf::jne_imm(bpf::R5, 3, 2));
        assert_eq!(p[9], bpf::mov32_imm(bpf::R0, 1));
        assert_eq!(p[12], bpf::exit());
    }
}
