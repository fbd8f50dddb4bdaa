//! One launch path for every way into a container (create and run today, exec next):
//!
//! 1. [`plan`]: the bundle and the flags become a [`ContainerPlan`] — everything checked and
//!    parsed, so a bad config is refused before anything exists;
//! 2. [`topology`]: which processes are cloned, how, and the handshake with rt, as pure data;
//! 3. [`parent`]: rt makes the state dir and the cgroup, clones, and walks the handshake, each
//!    child over its own typed [`channel`];
//! 4. [`child`]: the intermediate (when one is needed) and the init, from clone to execve.

pub mod channel;
mod child;
pub mod exec;
pub mod parent;
pub mod plan;
pub mod progress;
pub mod topology;

pub use exec::{ExecOptions, ExecPlan};
pub use parent::{launch, launch_exec, write_pid_file, Launched};
pub use plan::{plan, ContainerPlan, CreateOptions};

/// What the verb wants from the launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `create`: the init waits on exec.fifo for `start`.
    Create,
    /// `run -d`: the user's process runs; rt returns.
    RunDetached,
    /// `run`: the user's process runs; rt forwards signals and waits for it.
    RunForeground,
}
