//! Where a child setting a container up has got to, for the error when it dies without a word
//! (SIGKILL, the OOM killer): "container init was killed by signal 9 (SIGKILL) while building
//! the root". One byte in a shared anonymous page that rt maps before the clone and the child
//! writes as it goes: no system call in the child, one mmap in rt.

use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

/// The steps a child reports, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Doing {
    Nothing = 0,
    Starting,
    Namespaces,
    Sysctls,
    Root,
    CreateContainerHooks,
    PivotRoot,
    Terminal,
    Process,
    Ready,
    WaitingForStart,
    Exec,
}

impl Doing {
    const ALL: [Doing; 12] = [
        Doing::Nothing,
        Doing::Starting,
        Doing::Namespaces,
        Doing::Sysctls,
        Doing::Root,
        Doing::CreateContainerHooks,
        Doing::PivotRoot,
        Doing::Terminal,
        Doing::Process,
        Doing::Ready,
        Doing::WaitingForStart,
        Doing::Exec,
    ];

    pub fn words(self) -> &'static str {
        match self {
            Doing::Nothing => "being cloned",
            Doing::Starting => "starting (signal mask, id maps, cgroup placement)",
            Doing::Namespaces => "joining or making its namespaces (linux.namespaces)",
            Doing::Sysctls => "setting hostname, sysctls and oom_score_adj",
            Doing::Root => "building the root (mounts, devices)",
            Doing::CreateContainerHooks => "running the createContainer hooks",
            Doing::PivotRoot => "switching to the root (pivot_root, masked and read-only paths)",
            Doing::Terminal => "setting up its terminal",
            Doing::Process => "becoming the process (rlimits, user, capabilities, seccomp, cwd)",
            Doing::Ready => "waiting to be recorded",
            Doing::WaitingForStart => "waiting for start",
            Doing::Exec => "executing the process",
        }
    }
}

/// The shared byte, once rt has mapped it (null before: `set` does nothing).
static CELL: AtomicPtr<AtomicU8> = AtomicPtr::new(std::ptr::null_mut());

/// Maps the shared page (once per process) and sets it to [`Doing::Nothing`]; a failure
/// only loses the detail in the error.
pub fn arm() {
    let mut p = CELL.load(Ordering::SeqCst);
    if p.is_null() {
        let Ok(m) = crate::sys::mmap_shared_anon(4096) else { return };
        p = m.cast::<AtomicU8>();
        CELL.store(p, Ordering::SeqCst);
    }
    set(Doing::Nothing);
}

/// The child: now doing `d`.
pub fn set(d: Doing) {
    let p = CELL.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: p points into the page `arm` mapped (page-aligned, readable and writable,
        // never unmapped); an AtomicU8 has the size and alignment of a u8.
        unsafe { &*p }.store(d as u8, Ordering::SeqCst);
    }
}

/// rt: what the child was last doing.
pub fn get() -> Doing {
    let p = CELL.load(Ordering::SeqCst);
    if p.is_null() {
        return Doing::Nothing;
    }
    // SAFETY: as in `set`.
    let v = unsafe { &*p }.load(Ordering::SeqCst);
    Doing::ALL.get(usize::from(v)).copied().unwrap_or(Doing::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forked_child_s_step_is_seen_by_the_parent() {
        arm();
        assert_eq!(get(), Doing::Nothing);
        // SAFETY: the child only stores a byte and exits without running destructors.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            set(Doing::PivotRoot);
            // SAFETY: _exit is always safe to call.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert_eq!(get(), Doing::PivotRoot);
        assert!(get().words().contains("pivot_root"));
    }
}
