//! Temporary: methods the lifecycle needs from `cgroups` until that module grows them.
use crate::cgroups::{Cgroup, CgroupError};
use crate::rootfs::CgroupMount;

impl Cgroup {
    pub fn needs_pid_writes(&self) -> bool {
        false
    }
    pub fn container_mounts(&self) -> Vec<CgroupMount> {
        vec![]
    }
    pub fn thaw(&self) -> Result<(), CgroupError> {
        Ok(())
    }
}
