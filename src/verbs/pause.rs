//! `pause` and `resume`: the container's cgroup frozen and thawed. runc's wording where engines
//! match on it: `container not running` (pause of a container that is neither running nor
//! created), `container not paused` (resume).

use super::Global;
use crate::error::{Error, Result};
use crate::state::{ContainerDir, Status};

/// `pause`: freezes every process of a running (or created) container, as runc does, and
/// returns once they are all frozen. The status then reads `paused`.
pub fn pause(g: &Global, id: &str) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    match st.live_status(&dir.path) {
        Status::Running | Status::Created => {}
        _ => return Err(Error::NotRunning),
    }
    st.freeze()
}

/// `resume`: thaws a paused container.
pub fn resume(g: &Global, id: &str) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    if st.live_status(&dir.path) != Status::Paused {
        return Err(Error::msg("container not paused"));
    }
    st.cgroup.thaw()
}
