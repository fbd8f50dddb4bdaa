//! `exec`: a new process in a running container, through the launch path's exec topology
//! ([`crate::launch::launch_exec`]).

use super::Global;
use crate::error::Result;
use crate::launch::{self, ExecOptions};

/// The process's exit code in the foreground (128+N for signal N); 0 once it runs with
/// `--detach`.
pub fn exec(g: &Global, id: &str, o: &ExecOptions) -> Result<i32> {
    let plan = launch::exec::plan(&g.root, id, o)?;
    let launched = launch::launch_exec(&plan, o.detach)?;
    if o.detach {
        launched.finish();
        return Ok(0);
    }
    Ok(launched.wait()?.code())
}
