//! The eBPF instructions the device filter uses, and the two bpf(2) calls that load it and attach
//! it to a cgroup v2 directory. Hand-written: the program has six instruction kinds, and a crate
//! (aya, libbpf-rs) would bring an ELF loader, BTF and maps that rt does not need.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Errno, Error, Result};

/// `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

pub const R0: u8 = 0;
pub const R1: u8 = 1;
pub const R2: u8 = 2;
pub const R3: u8 = 3;
pub const R4: u8 = 4;
pub const R5: u8 = 5;

// Opcode parts (linux/bpf_common.h, linux/bpf.h).
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}
/// dst = *(u32 *)(src + off)
pub const fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
}
/// (u32) dst &= imm
pub const fn and32_imm(dst: u8, imm: i32) -> Insn {
    insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
}
/// (u32) dst >>= imm
pub const fn rsh32_imm(dst: u8, imm: i32) -> Insn {
    insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
}
/// (u32) dst = src
pub const fn mov32_reg(dst: u8, src: u8) -> Insn {
    insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
}
/// (u32) dst = imm
pub const fn mov32_imm(dst: u8, imm: i32) -> Insn {
    insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm)
}
/// if dst != imm goto +off
pub const fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
}
/// if dst != src goto +off
pub const fn jne_reg(dst: u8, src: u8, off: i16) -> Insn {
    insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0)
}
/// if dst == imm goto +off
pub const fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
}
pub const fn exit() -> Insn {
    insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
}

/// Runs a program of the instructions above on a `bpf_cgroup_dev_ctx` (tests only: it is how
/// the device filter is checked against the v1 semantics without root).
#[cfg(test)]
pub fn interpret(prog: &[Insn], ctx: [u32; 3]) -> u64 {
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let imm = i.imm as i64 as u64;
        pc += 1;
        match i.code {
            c if c == BPF_LDX | BPF_W | BPF_MEM => {
                assert_eq!(src, 1, "only the context is read");
                r[dst] = u64::from(ctx[i.off as usize / 4]);
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => r[dst] = u64::from((r[dst] as u32) & (imm as u32)),
            c if c == BPF_ALU | BPF_RSH | BPF_K => r[dst] = u64::from((r[dst] as u32) >> (imm as u32)),
            c if c == BPF_ALU | BPF_MOV | BPF_X => r[dst] = u64::from(r[src] as u32),
            c if c == BPF_ALU | BPF_MOV | BPF_K => r[dst] = u64::from(imm as u32),
            c if c == BPF_JMP | BPF_JNE | BPF_K => {
                if r[dst] != imm {
                    pc += i.off as usize;
                }
            }
            c if c == BPF_JMP | BPF_JNE | BPF_X => {
                if r[dst] != r[src] {
                    pc += i.off as usize;
                }
            }
            c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                if r[dst] == imm {
                    pc += i.off as usize;
                }
            }
            c if c == BPF_JMP | BPF_EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Several programs per cgroup, all of which must allow: the parents' filters (systemd's, the
/// engine's) keep applying below ours, and ours can later be replaced without a gap.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to the fields rt sets.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Only the attribute structs of this file, filled as each command wants them, come here.
fn sys_bpf<T>(cmd: libc::c_int, attr: &mut T) -> Result<libc::c_long, Errno> {
    // SAFETY: `attr` is one of this file's #[repr(C)] prefixes of `union bpf_attr`, made for
    // `cmd`, whose pointers (instructions, license, log buffer) outlive the call.
    unsafe { crate::sys::bpf(cmd, attr) }.map_err(|e| Errno::from_io(&e))
}

fn load(prog: &[Insn], log: Option<&mut Vec<u8>>) -> Result<OwnedFd, Errno> {
    // Any string does for a program that calls no GPL-only helper; runc's wording.
    static LICENSE: &[u8] = b"Apache\0";
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..10].copy_from_slice(b"rt_devices");
    if let Some(buf) = log {
        attr.log_level = 1;
        attr.log_size = buf.len() as u32;
        attr.log_buf = buf.as_mut_ptr() as u64;
    }
    let fd = sys_bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: BPF_PROG_LOAD returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads `prog` and attaches it to the cgroup v2 directory `dir`. The cgroup keeps the program
/// alive; rt's fds close on return.
pub fn attach_device_filter(dir: &Path, prog: &[Insn]) -> Result<()> {
    let err = |op: &str, errno, detail: String| Error::Bpf { op: op.into(), path: dir.to_owned(), errno, detail };
    let prog_fd = match load(prog, None) {
        Ok(fd) => fd,
        Err(e) => {
            // Load again with the verifier's log, only to say why.
            let mut log = vec![0u8; 1 << 16];
            let _ = load(prog, Some(&mut log));
            let end = log.iter().position(|&b| b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]).trim().to_owned();
            let detail = if text.is_empty() { String::new() } else { format!(" (verifier: {text})") };
            return Err(err("loading the eBPF device filter", e, detail));
        }
    };
    // BPF_PROG_ATTACH needs a real descriptor of the directory, not an O_PATH one.
    let cg = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| err("opening the cgroup", Errno::from_io(&e), String::new()))?;
    let mut attr = ProgAttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    sys_bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| err("attaching the eBPF device filter", e, String::new()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_the_kernel_headers() {
        // Opcodes as in the kernel's bpf_insn macros: BPF_LDX_MEM(BPF_W…)=0x61, ALU32 AND K=0x54,
        // RSH K=0x74, MOV X=0xbc, MOV K=0xb4, JNE K=0x55, JNE X=0x5d, JEQ K=0x15, EXIT=0x95.
        assert_eq!(ldx_w(R2, R1, 4), Insn { code: 0x61, regs: 0x12, off: 4, imm: 0 });
        assert_eq!(and32_imm(R2, 0xffff).code, 0x54);
        assert_eq!(rsh32_imm(R3, 16).code, 0x74);
        assert_eq!(mov32_reg(R1, R3), Insn { code: 0xbc, regs: 0x31, off: 0, imm: 0 });
        assert_eq!(mov32_imm(R0, 1).code, 0xb4);
        assert_eq!(jne_imm(R4, 7, 3), Insn { code: 0x55, regs: 0x04, off: 3, imm: 7 });
        assert_eq!(jne_reg(R1, R3, 2).code, 0x5d);
        assert_eq!(jeq_imm(R1, 0, 2).code, 0x15);
        assert_eq!(exit().code, 0x95);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 64);
        assert_eq!(std::mem::size_of::<ProgAttachAttr>(), 20);
    }
}
