//! The system call ABIs an x86_64 kernel runs, as seccomp sees them (`seccomp_data.arch` and
//! `nr`), and each one's syscall numbers by name.
//!
//! The x86_64 and x86 tables are the `syscalls` crate's (generated from the kernel's
//! `syscall_64.tbl` and `syscall_32.tbl`). x32 has no table there; it is x86_64's with the
//! x32 bit set, except for the 36 calls x32 got its own entries for (512–547, where the
//! x86_64 one passes 64-bit structures) and the 11 old ones it never had. Both lists are
//! fixed history: every call added since 2019 is common to x86_64 and x32. A test checks all
//! three against the kernel headers where they are installed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use oci_spec::runtime::Arch;

/// `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`: x86_64 and x32 processes.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `EM_386 | __AUDIT_ARCH_LE`: 32-bit x86 processes (int 0x80, sysenter).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// Set in `nr` by every x32 system call (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Abi {
    X86_64,
    X86,
    X32,
}

impl Abi {
    /// The ABI a profile's architecture names on this host; `None` for one this kernel never
    /// reports (arm on x86_64), whose rules could never match.
    pub fn of(arch: Arch) -> Option<Abi> {
        match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Some(Abi::X86_64),
            Arch::ScmpArchX86 => Some(Abi::X86),
            Arch::ScmpArchX32 => Some(Abi::X32),
            _ => None,
        }
    }

    pub fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::X86 => AUDIT_ARCH_I386,
        }
    }

    /// What `nr` starts from: x32's bit.
    pub fn base(self) -> u32 {
        if self == Abi::X32 {
            X32_SYSCALL_BIT
        } else {
            0
        }
    }

    /// One more than the highest `nr - base` this ABI has.
    pub fn table_len(self) -> usize {
        match self {
            Abi::X86_64 => syscalls::x86_64::Sysno::last().id() as usize + 1,
            Abi::X86 => syscalls::x86::Sysno::last().id() as usize + 1,
            Abi::X32 => X32_OWN.iter().map(|o| o.2 as usize + 1).chain([Abi::X86_64.table_len()]).max().unwrap_or(0),
        }
    }

    /// Whether argument comparisons look at the low 32 bits only. libseccomp treats x86 and
    /// x32 as 32-bit architectures (its `ARCH_SIZE_32`) and drops the high word of every value;
    /// runc and crun profiles are written against that.
    pub fn args_32bit(self) -> bool {
        self != Abi::X86_64
    }

    /// `Tables::resolve` over every name the tables have, built once (tests look up
    /// thousands of names).
    #[cfg(test)]
    pub fn resolve(self, name: &str) -> Option<u32> {
        static TABLES: std::sync::OnceLock<Tables<'static>> = std::sync::OnceLock::new();
        let all = || {
            let names: Vec<&'static str> =
                syscalls::x86_64::Sysno::iter().map(|s| s.name()).chain(syscalls::x86::Sysno::iter().map(|s| s.name())).chain(["break"]).collect();
            Tables::of(names.len(), names)
        };
        TABLES.get_or_init(all).resolve(self, name)
    }
}

/// The numbers on x86_64 and on x86 of the names a profile uses, in a hash map filled from the
/// crate's tables: its own `from_str` is one `match` over ~450 strings, which at opt-level "z"
/// is a chain of comparisons (1.1 ms for a profile's names on three ABIs), and a sorted table
/// is mostly memcmp. Only the profile's names are kept: rt's allocator never reuses memory.
pub struct Tables<'a>(HashMap<&'a str, [Option<u32>; 2], BuildHasherDefault<Fnv>>);

impl<'a> Tables<'a> {
    /// `count`: how many names there are, duplicates included.
    pub fn of(count: usize, names: impl IntoIterator<Item = &'a str>) -> Tables<'a> {
        let mut m = HashMap::with_capacity_and_hasher(count, BuildHasherDefault::default());
        for n in names {
            m.insert(n, [None; 2]);
        }
        for s in syscalls::x86_64::Sysno::iter() {
            if let Some(e) = m.get_mut(s.name()) {
                e[0] = Some(s.id() as u32);
            }
        }
        // the crate leaves out x86's `break` (17, never implemented, as gtty and friends are)
        for (name, nr) in syscalls::x86::Sysno::iter().map(|s| (s.name(), s.id() as u32)).chain([("break", 17)]) {
            if let Some(e) = m.get_mut(name) {
                e[1] = Some(nr);
            }
        }
        Tables(m)
    }

    /// The number `seccomp_data.nr` carries for `name` on `abi`, if that ABI has the call.
    #[cfg(test)]
    pub fn resolve(&self, abi: Abi, name: &str) -> Option<u32> {
        let [x86_64, x86] = self.lookup(name);
        match abi {
            Abi::X86_64 => x86_64,
            Abi::X86 => x86,
            Abi::X32 => x86_64.and_then(x32_of),
        }
    }

    /// `name`'s numbers on x86_64 and on x86.
    pub fn lookup(&self, name: &str) -> [Option<u32>; 2] {
        self.0.get(name).copied().unwrap_or([None; 2])
    }
}

/// FNV-1a, a few instructions per byte. std's SipHash resists keys chosen to collide, at several
/// times the cost; here the keys come from the container's own profile, and colliding names
/// would only slow down that container's `create`.
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// x32's number for the call that is `nr` on x86_64, if x32 has it.
pub fn x32_of(nr: u32) -> Option<u32> {
    if let Some(own) = X32_OWN.iter().find(|o| o.1 == nr) {
        Some(own.2 | X32_SYSCALL_BIT)
    } else if X32_ABSENT.iter().any(|a| a.1 == nr) {
        None
    } else {
        Some(nr | X32_SYSCALL_BIT)
    }
}

/// The x32 entries of `syscall_64.tbl`: calls whose x86_64 entry takes 64-bit layouts, with
/// the x86_64 number and the x32 one.
const X32_OWN: [(&str, u32, u32); 36] = [
    ("rt_sigaction", 13, 512),
    ("rt_sigreturn", 15, 513),
    ("ioctl", 16, 514),
    ("readv", 19, 515),
    ("writev", 20, 516),
    ("recvfrom", 45, 517),
    ("sendmsg", 46, 518),
    ("recvmsg", 47, 519),
    ("execve", 59, 520),
    ("ptrace", 101, 521),
    ("rt_sigpending", 127, 522),
    ("rt_sigtimedwait", 128, 523),
    ("rt_sigqueueinfo", 129, 524),
    ("sigaltstack", 131, 525),
    ("timer_create", 222, 526),
    ("mq_notify", 244, 527),
    ("kexec_load", 246, 528),
    ("waitid", 247, 529),
    ("set_robust_list", 273, 530),
    ("get_robust_list", 274, 531),
    ("vmsplice", 278, 532),
    ("move_pages", 279, 533),
    ("preadv", 295, 534),
    ("pwritev", 296, 535),
    ("rt_tgsigqueueinfo", 297, 536),
    ("recvmmsg", 299, 537),
    ("sendmmsg", 307, 538),
    ("process_vm_readv", 310, 539),
    ("process_vm_writev", 311, 540),
    ("setsockopt", 54, 541),
    ("getsockopt", 55, 542),
    ("io_setup", 206, 543),
    ("io_submit", 209, 544),
    ("execveat", 322, 545),
    ("preadv2", 327, 546),
    ("pwritev2", 328, 547),
];

/// The `64`-only entries of `syscall_64.tbl` that have no x32 counterpart.
const X32_ABSENT: [(&str, u32); 11] = [
    ("uselib", 134),
    ("_sysctl", 156),
    ("create_module", 174),
    ("get_kernel_syms", 177),
    ("query_module", 178),
    ("nfsservctl", 180),
    ("set_thread_area", 205),
    ("get_thread_area", 211),
    ("epoll_ctl_old", 214),
    ("epoll_wait_old", 215),
    ("vserver", 236),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// `#define __NR_name N` or `#define __NR_name (__X32_SYSCALL_BIT + N)` lines.
    fn header(name: &str) -> Option<BTreeMap<String, u32>> {
        let text = std::fs::read_to_string(format!("/usr/include/x86_64-linux-gnu/asm/{name}")).ok()?;
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("#define __NR_") else { continue };
            let Some((call, value)) = rest.split_once(' ') else { continue };
            let value = value.trim();
            let nr = match value.strip_prefix("(__X32_SYSCALL_BIT + ") {
                Some(v) => v.trim_end_matches(')').parse::<u32>().ok().map(|n| n | X32_SYSCALL_BIT),
                None => value.parse::<u32>().ok(),
            };
            out.insert(call.to_owned(), nr?);
        }
        Some(out)
    }

    /// Every call the installed kernel headers (linux-libc-dev) know has the same number in
    /// rt's table; the headers may be older than the table, not the other way round.
    #[test]
    fn tables_match_the_kernel_headers() {
        for (abi, file) in [(Abi::X86_64, "unistd_64.h"), (Abi::X86, "unistd_32.h"), (Abi::X32, "unistd_x32.h")] {
            let Some(h) = header(file) else {
                eprintln!("skipped {abi:?}: no /usr/include/x86_64-linux-gnu/asm/{file} (linux-libc-dev)");
                continue;
            };
            assert!(h.len() > 300, "{file}: {} entries", h.len());
            for (call, nr) in &h {
                assert_eq!(abi.resolve(call), Some(*nr), "{abi:?} {call}");
            }
            if abi == Abi::X32 {
                for (gone, _) in X32_ABSENT {
                    assert!(!h.contains_key(gone), "{gone} is in {file}");
                    assert_eq!(abi.resolve(gone), None);
                }
            }
        }
    }

    #[test]
    fn x32_tables_name_their_x86_64_numbers() {
        for (name, nr64, nr32) in X32_OWN {
            assert_eq!(Abi::X86_64.resolve(name), Some(nr64), "{name}");
            assert_eq!(Abi::X32.resolve(name), Some(nr32 | X32_SYSCALL_BIT), "{name}");
        }
        for (name, nr64) in X32_ABSENT {
            assert_eq!(Abi::X86_64.resolve(name), Some(nr64), "{name}");
        }
    }

    #[test]
    fn every_number_fits_its_abis_table() {
        let names: Vec<&str> = syscalls::x86_64::Sysno::iter().map(|s| s.name()).chain(syscalls::x86::Sysno::iter().map(|s| s.name())).collect();
        let t = Tables::of(names.len(), names);
        for (name, _) in t.0.iter() {
            for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
                if let Some(nr) = t.resolve(abi, name) {
                    assert!(nr >= abi.base() && ((nr - abi.base()) as usize) < abi.table_len(), "{abi:?} {name} {nr}");
                }
            }
        }
    }

    #[test]
    fn resolves_per_abi() {
        assert_eq!(Abi::X86_64.resolve("getpid"), Some(39));
        assert_eq!(Abi::X86.resolve("getpid"), Some(20));
        assert_eq!(Abi::X32.resolve("getpid"), Some(39 | X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.resolve("execve"), Some(520 | X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.resolve("uselib"), None);
        assert_eq!(Abi::X86_64.resolve("_llseek"), None);
        assert_eq!(Abi::X86.resolve("_llseek"), Some(140));
        assert_eq!(Abi::X86_64.resolve("clone3"), Some(435));
        assert_eq!(Abi::X86_64.resolve("no_such_call"), None);
        assert_eq!(Abi::of(Arch::ScmpArchAarch64), None);
        assert_eq!(Abi::of(Arch::ScmpArchNative), Some(Abi::X86_64));
    }
}
