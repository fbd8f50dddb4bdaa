//! A seccomp classic-BPF interpreter (tests only): runs a program on a `seccomp_data` as the
//! kernel does, after the kernel's checks (known opcodes, aligned loads inside the data, every
//! jump inside the program, a `ret` at the end), so that every ABI, argument and range of a
//! program can be tried without a kernel that runs it.

use seccompiler::sock_filter;

#[derive(Debug, Clone, Copy, Default)]
pub struct Data {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// What the kernel's loader would refuse, as a message.
pub fn check(prog: &[sock_filter]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > 4096 {
        return Err(format!("{} instructions", prog.len()));
    }
    for (pc, i) in prog.iter().enumerate() {
        let inside = |off: usize| pc + 1 + off < prog.len();
        let ok = match i.code {
            LD_W_ABS => i.k.is_multiple_of(4) && i.k < 64,
            ALU_AND_K | RET_K => true,
            JA => inside(i.k as usize),
            JEQ_K | JGT_K | JGE_K | JSET_K => inside(i.jt as usize) && inside(i.jf as usize),
            _ => false,
        };
        if !ok {
            return Err(format!("instruction {pc}: {i:?}"));
        }
    }
    match prog.last() {
        Some(i) if i.code == RET_K => Ok(()),
        _ => Err("does not end in ret".into()),
    }
}

/// The return value, and how many instructions it took.
pub fn run(prog: &[sock_filter], d: &Data) -> (u32, usize) {
    let word = |off: u32| -> u32 {
        match off {
            0 => d.nr,
            4 => d.arch,
            8 | 12 => 0, // instruction_pointer
            _ => {
                let arg = d.args[(off as usize - 16) / 8];
                if off.is_multiple_of(8) {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
        }
    };
    let (mut a, mut pc, mut steps) = (0u32, 0usize, 0usize);
    loop {
        let i = &prog[pc];
        steps += 1;
        pc += 1;
        let cond = |c: bool| if c { i.jt as usize } else { i.jf as usize };
        match i.code {
            LD_W_ABS => a = word(i.k),
            ALU_AND_K => a &= i.k,
            JA => pc += i.k as usize,
            JEQ_K => pc += cond(a == i.k),
            JGT_K => pc += cond(a > i.k),
            JGE_K => pc += cond(a >= i.k),
            JSET_K => pc += cond(a & i.k != 0),
            RET_K => return (i.k, steps),
            c => panic!("opcode {c:#x} at {}", pc - 1),
        }
    }
}
