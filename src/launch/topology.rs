//! Which processes a launch makes and how they meet rt, as data: planned from a few facts about
//! the container (its namespaces, its cgroup layout, the verb) by pure code, then walked by the
//! parent ([`super::parent`]) and obeyed by each child ([`super::child`]).
//!
//! Every way into a container is the same few steps in a different arrangement. Joining a pid
//! or time namespace by path, or a user namespace, takes an intermediate process: setns to pid
//! and time changes only the namespaces of the caller's future children, and the namespaces a
//! container makes in a joined user namespace must be made by a process already in it; so the
//! intermediate joins and then clones the init (as rt's own child, with `CLONE_PARENT`).
//! Otherwise one clone makes the init straight into every new namespace, a new user namespace
//! included (crun's shape: the other new namespaces are then owned by it, and rt, in the parent
//! namespace, writes its id maps while the init waits). On cgroup v2 the first clone lands in
//! the cgroup (`CLONE_INTO_CGROUP`); v1 hierarchies take a pid write after it, by the init
//! itself where it can still see the host's cgroupfs as root, by rt where it cannot (behind a
//! joined mount namespace, or in a user namespace, where the host's cgroup files are not its).

use oci_spec::runtime::LinuxNamespaceType;

use crate::namespaces::{self, JOIN_ORDER};

/// A process of the launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Joins what only a child can be in (pid, time, user), clones the init, reports its pid, exits.
    Intermediate,
    /// The container's init: becomes the user's process with execve.
    Init,
    /// `exec`: a new process in a running container's namespaces and cgroup.
    Exec,
}

/// How a process gets into the container's v1 cgroups (v2: see [`ProcessStep::into_cgroup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Nothing to do after the clone: no v1 hierarchies, or another process is placed instead.
    None,
    /// The process writes itself into each v1 `tasks` file before anything else: cheaper than
    /// `cgroup.procs` (no RCU grace period; see `Cgroup::place_self`).
    SelfWrite,
    /// rt writes the pid, then sends `Placed`: the process sits in a mount namespace it joined
    /// where the host's cgroupfs is not to be seen.
    ByRt,
}

/// One process: how it is cloned and what it does before its part of the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStep {
    pub role: Role,
    /// `CLONE_NEW*` of the namespaces its clone creates (`CLONE_NEWTIME` never: a time
    /// namespace is made by rt with unshare, see [`Topology::time_namespace`]).
    pub clone_flags: u64,
    /// Cloned by the intermediate as rt's child (`CLONE_PARENT`), not by rt.
    pub cloned_by_intermediate: bool,
    /// `clone3(CLONE_INTO_CGROUP)` with the container's v2 directory.
    pub into_cgroup: bool,
    /// The joined namespaces it enters itself, in this order.
    pub joins: Vec<LinuxNamespaceType>,
    pub placement: Placement,
    /// Namespaces it unshares right after placement: a new cgroup namespace on v1 is rooted
    /// where the process is when it is made, so it can only be made once the process is there.
    pub unshare_after_placement: u64,
}

/// One step of the handshake between rt and its children, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// intermediate → rt: the pid of the init it cloned; rt then reaps the intermediate.
    InitPid,
    /// rt writes the new user namespace's `uid_map` and `gid_map` (and `setgroups`), then →
    /// init: `Mapped`. The init waits for it before anything else: until then it is nobody.
    IdMaps,
    /// rt writes the init's pid into the v1 cgroups, then → init: `Placed`.
    Place,
    /// init → rt: the root is built, pivot_root is next (`Mounted`). rt runs the prestart and
    /// createRuntime hooks in its own namespaces, then → init: `Hooks`, with the state the
    /// init's createContainer hooks read.
    Hooks,
    /// init (or exec'd process) → rt: the master of its pty (`Console`), for a foreground
    /// `run` or `exec -t` without a console socket: rt relays between it and its own terminal.
    Console,
    /// init → rt: set up and checked, waiting to be let go.
    Ready,
    /// rt → init, once the container is recorded (state.json, pid file): `Go`. With `create`
    /// the init then waits on exec.fifo for `start`; with `run` it executes the user's process.
    /// An init whose rt died before recording it sees its channel close and exits.
    Go,
    /// init → rt (`run`): the channel closes on a successful execve, or a failure comes first.
    Exec,
}

/// How the user's process is let go once the container is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartBy {
    /// `create`: the init blocks opening exec.fifo until `start` opens its other end.
    Fifo,
    /// `run`: right after `Go`.
    Go,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// In clone order; the first is cloned by rt.
    pub processes: Vec<ProcessStep>,
    pub stages: Vec<Stage>,
    pub start_by: StartBy,
    /// rt unshares a time namespace (and writes its offsets) before the first clone: offsets
    /// can only be written while no process is in it, and the clones are born in it.
    pub time_namespace: bool,
    /// Namespaces rt itself joins before the first clone: setns of a pid or time namespace
    /// changes only where the caller's children are born, so rt can do it for its child and
    /// save an intermediate process.
    pub parent_joins: Vec<LinuxNamespaceType>,
}

/// What the topology depends on; everything else is the child's business.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `CLONE_NEW*` of the namespaces the container gets new.
    pub new: i32,
    /// The namespaces it joins by path.
    pub joins: Vec<LinuxNamespaceType>,
    /// The container's cgroup has a v2 directory to clone into.
    pub v2_dir: bool,
    /// The container's cgroup has v1 hierarchies, which take a pid write.
    pub v1_dirs: bool,
    /// `create` (the init waits on exec.fifo) rather than `run`.
    pub create: bool,
    /// There are hooks to run between the building of the root and pivot_root.
    pub hooks_before_pivot: bool,
    /// The process gets a terminal whose master comes back to rt (no console socket).
    pub console_to_rt: bool,
    /// Bind mounts to idmap: rt makes their trees (host privileges) once the user namespace
    /// exists, and sends them with `Mapped`.
    pub idmap_mounts: bool,
}

impl Facts {
    fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.joins.contains(&t)
    }

    fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new & namespaces::clone_flag(t) != 0
    }
}

/// The launch for a container with these facts.
pub fn plan(f: &Facts) -> Topology {
    use LinuxNamespaceType::*;
    let intermediate = f.joins(Pid) || f.joins(Time) || f.joins(User);
    let userns = f.creates(User) || f.joins(User);
    let mut new = (f.new & !namespaces::CLONE_NEWTIME) as u64;
    // On v1 the init has to be in its cgroups before it makes its cgroup namespace.
    let cgroupns_late = f.v1_dirs && f.creates(Cgroup);
    if cgroupns_late {
        new &= !(libc::CLONE_NEWCGROUP as u64);
    }
    let ordered =
        |types: &[LinuxNamespaceType]| -> Vec<LinuxNamespaceType> { JOIN_ORDER.iter().copied().filter(|t| types.contains(t) && f.joins(*t)).collect() };
    let init_placement = match (f.v1_dirs, (intermediate && f.joins(Mount)) || userns) {
        (false, _) => Placement::None,
        (true, false) => Placement::SelfWrite,
        (true, true) => Placement::ByRt,
    };
    let init = ProcessStep {
        role: Role::Init,
        clone_flags: new,
        cloned_by_intermediate: intermediate,
        into_cgroup: f.v2_dir && !intermediate,
        joins: if intermediate { vec![] } else { ordered(&[Ipc, Uts, Network, Cgroup, Mount]) },
        placement: init_placement,
        unshare_after_placement: if cgroupns_late { libc::CLONE_NEWCGROUP as u64 } else { 0 },
    };
    let mut processes = Vec::with_capacity(2);
    let mut stages = Vec::with_capacity(5);
    if intermediate {
        processes.push(ProcessStep {
            role: Role::Intermediate,
            clone_flags: 0,
            cloned_by_intermediate: false,
            into_cgroup: f.v2_dir,
            joins: ordered(&JOIN_ORDER),
            placement: Placement::None,
            unshare_after_placement: 0,
        });
        stages.push(Stage::InitPid);
    }
    if f.creates(User) || f.idmap_mounts {
        stages.push(Stage::IdMaps);
    }
    if init.placement == Placement::ByRt {
        stages.push(Stage::Place);
    }
    if f.hooks_before_pivot {
        stages.push(Stage::Hooks);
    }
    if f.console_to_rt {
        stages.push(Stage::Console);
    }
    processes.push(init);
    stages.extend([Stage::Ready, Stage::Go]);
    if !f.create {
        stages.push(Stage::Exec);
    }
    Topology { processes, stages, start_by: if f.create { StartBy::Fifo } else { StartBy::Go }, time_namespace: f.creates(Time), parent_joins: vec![] }
}

/// What an exec's topology depends on.
#[derive(Debug, Clone, Default)]
pub struct ExecFacts {
    /// The namespaces of the container's init that are not rt's own: the new process joins them.
    pub joins: Vec<LinuxNamespaceType>,
    /// The cgroup (the container's, or the sub-cgroup of `--cgroup`) has a v2 directory.
    pub v2_dir: bool,
    pub v1_dirs: bool,
    /// `exec -t` in the foreground, without a console socket.
    pub console_to_rt: bool,
    /// rt holds CAP_SYS_ADMIN where it runs: it may join a pid (or time) namespace for its
    /// child. An unprivileged rt (rootless) may not: an intermediate joins the user namespace
    /// first, then the others, and clones the process.
    pub rt_privileged: bool,
}

/// `exec`: one clone. rt joins the pid and time namespaces itself (they only affect its
/// children), the process is born in the cgroup on v2, writes itself into the v1 ones while
/// it still sees the host's cgroupfs, then joins the rest (user first). An unprivileged rt
/// cannot join them itself: an intermediate joins all (user first) and clones the process.
pub fn plan_exec(f: &ExecFacts) -> Topology {
    use LinuxNamespaceType::*;
    let in_order = |want: &dyn Fn(LinuxNamespaceType) -> bool| JOIN_ORDER.iter().copied().filter(|t| f.joins.contains(t) && want(*t)).collect::<Vec<_>>();
    let children_only = f.joins.iter().any(|t| matches!(t, Pid | Time));
    if !f.rt_privileged && children_only {
        let mid = ProcessStep {
            role: Role::Intermediate,
            clone_flags: 0,
            cloned_by_intermediate: false,
            into_cgroup: f.v2_dir,
            joins: in_order(&|_| true),
            placement: if f.v1_dirs { Placement::SelfWrite } else { Placement::None },
            unshare_after_placement: 0,
        };
        let process =
            ProcessStep { role: Role::Exec, cloned_by_intermediate: true, into_cgroup: false, joins: vec![], placement: Placement::None, ..mid.clone() };
        let mut stages = vec![Stage::InitPid];
        if f.console_to_rt {
            stages.push(Stage::Console);
        }
        stages.extend([Stage::Ready, Stage::Go, Stage::Exec]);
        return Topology { processes: vec![mid, process], stages, start_by: StartBy::Go, time_namespace: false, parent_joins: vec![] };
    }
    let process = ProcessStep {
        role: Role::Exec,
        clone_flags: 0,
        cloned_by_intermediate: false,
        into_cgroup: f.v2_dir,
        joins: in_order(&|t| !matches!(t, Pid | Time)),
        placement: if f.v1_dirs { Placement::SelfWrite } else { Placement::None },
        unshare_after_placement: 0,
    };
    let mut stages = if f.console_to_rt { vec![Stage::Console] } else { vec![] };
    stages.extend([Stage::Ready, Stage::Go, Stage::Exec]);
    Topology { processes: vec![process], stages, start_by: StartBy::Go, time_namespace: false, parent_joins: in_order(&|t| matches!(t, Pid | Time)) }
}

impl Topology {
    /// The process that becomes the user's: the init, or the exec'd one.
    pub fn init(&self) -> &ProcessStep {
        // plan() and plan_exec() always end the list with it
        &self.processes[self.processes.len() - 1]
    }

    pub fn intermediate(&self) -> Option<&ProcessStep> {
        self.processes.iter().find(|p| p.role == Role::Intermediate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LinuxNamespaceType::*;

    const NEW: i32 = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET;

    #[test]
    fn one_clone_on_cgroup_v2() {
        let t = plan(&Facts { new: NEW, v2_dir: true, create: true, ..Default::default() });
        assert_eq!(t.processes.len(), 1);
        let init = t.init();
        assert_eq!(init.clone_flags, NEW as u64);
        assert!(init.into_cgroup && !init.cloned_by_intermediate);
        assert_eq!(init.placement, Placement::None);
        assert_eq!(t.stages, [Stage::Ready, Stage::Go]);
        assert_eq!(t.start_by, StartBy::Fifo);
        assert!(!t.time_namespace);
    }

    #[test]
    fn v1_init_places_itself_and_makes_its_cgroup_namespace_after() {
        let t = plan(&Facts { new: NEW | libc::CLONE_NEWCGROUP, v2_dir: true, v1_dirs: true, ..Default::default() });
        let init = t.init();
        assert_eq!(init.clone_flags, NEW as u64, "no CLONE_NEWCGROUP before placement");
        assert_eq!(init.unshare_after_placement, libc::CLONE_NEWCGROUP as u64);
        assert_eq!(init.placement, Placement::SelfWrite);
        assert!(init.into_cgroup, "hybrid: the unified dir by clone, v1 by pid writes");
        assert_eq!(t.stages, [Stage::Ready, Stage::Go, Stage::Exec]);
        assert_eq!(t.start_by, StartBy::Go);
        let t = plan(&Facts { new: NEW | libc::CLONE_NEWCGROUP, v2_dir: true, ..Default::default() });
        assert_eq!(t.init().clone_flags, (NEW | libc::CLONE_NEWCGROUP) as u64, "v2: the clone makes it");
    }

    #[test]
    fn joins_without_an_intermediate_are_the_inits_in_join_order() {
        let t = plan(&Facts { new: libc::CLONE_NEWPID, joins: vec![Mount, Network, Uts], v1_dirs: true, ..Default::default() });
        assert_eq!(t.processes.len(), 1);
        assert_eq!(t.init().joins, [Uts, Network, Mount]);
        assert_eq!(t.init().placement, Placement::SelfWrite, "placed before it joins the mount namespace");
    }

    #[test]
    fn a_pid_join_takes_an_intermediate() {
        let t = plan(&Facts { new: libc::CLONE_NEWNS, joins: vec![Pid, Network], v2_dir: true, v1_dirs: true, ..Default::default() });
        let [mid, init] = &t.processes[..] else { panic!("{t:?}") };
        assert_eq!(mid.role, Role::Intermediate);
        assert_eq!(mid.joins, [Network, Pid]);
        assert!(mid.into_cgroup && !init.into_cgroup, "the init is cloned in the intermediate's cgroup");
        assert!(init.cloned_by_intermediate);
        assert!(init.joins.is_empty());
        assert_eq!(init.clone_flags, libc::CLONE_NEWNS as u64);
        assert_eq!(init.placement, Placement::SelfWrite);
        assert_eq!(t.stages, [Stage::InitPid, Stage::Ready, Stage::Go, Stage::Exec]);
    }

    #[test]
    fn behind_a_joined_mount_namespace_rt_places_the_init() {
        let t = plan(&Facts { joins: vec![Mount, Time], v1_dirs: true, create: true, ..Default::default() });
        assert_eq!(t.intermediate().map(|p| p.joins.clone()), Some(vec![Time, Mount]));
        assert_eq!(t.init().placement, Placement::ByRt);
        assert_eq!(t.stages, [Stage::InitPid, Stage::Place, Stage::Ready, Stage::Go]);
    }

    #[test]
    fn exec_is_one_clone_with_rt_joining_pid_and_time() {
        let t =
            plan_exec(&ExecFacts { joins: vec![Mount, Pid, Network, Time, User, Ipc], v2_dir: true, v1_dirs: true, console_to_rt: false, rt_privileged: true });
        assert_eq!(t.parent_joins, [Pid, Time]);
        let [p] = &t.processes[..] else { panic!("{t:?}") };
        assert_eq!(p.role, Role::Exec);
        assert_eq!(p.joins, [User, Ipc, Network, Mount], "user first, mount last");
        assert!(p.into_cgroup);
        assert_eq!(p.placement, Placement::SelfWrite, "placed while the host's cgroupfs is still in sight");
        assert_eq!(t.stages, [Stage::Ready, Stage::Go, Stage::Exec]);
        let t = plan_exec(&ExecFacts { joins: vec![Mount], v2_dir: true, v1_dirs: false, console_to_rt: true, rt_privileged: true });
        assert!(t.parent_joins.is_empty());
        assert_eq!(t.init().placement, Placement::None);
        assert_eq!(t.stages, [Stage::Console, Stage::Ready, Stage::Go, Stage::Exec], "exec -t in the foreground");
    }

    #[test]
    fn hooks_before_pivot_root_are_a_stage_of_their_own() {
        let t = plan(&Facts { new: NEW, joins: vec![Mount, Pid], v1_dirs: true, create: true, hooks_before_pivot: true, ..Default::default() });
        assert_eq!(t.stages, [Stage::InitPid, Stage::Place, Stage::Hooks, Stage::Ready, Stage::Go]);
        let t = plan(&Facts { new: NEW, hooks_before_pivot: true, console_to_rt: true, ..Default::default() });
        assert_eq!(t.stages, [Stage::Hooks, Stage::Console, Stage::Ready, Stage::Go, Stage::Exec], "the pty after pivot_root");
    }

    #[test]
    fn a_new_user_namespace_is_one_clone_and_rt_writes_its_maps() {
        let t = plan(&Facts { new: NEW | libc::CLONE_NEWUSER, v2_dir: true, v1_dirs: true, create: true, ..Default::default() });
        assert_eq!(t.processes.len(), 1, "crun's shape: every namespace in one clone");
        assert_eq!(t.init().clone_flags & libc::CLONE_NEWUSER as u64, libc::CLONE_NEWUSER as u64);
        assert_eq!(t.init().placement, Placement::ByRt, "the host's v1 cgroup files are not the init's to write");
        assert_eq!(t.stages, [Stage::IdMaps, Stage::Place, Stage::Ready, Stage::Go]);
        // with a pid join, the intermediate clones it; the maps come after its pid
        let t = plan(&Facts { new: libc::CLONE_NEWUSER | libc::CLONE_NEWNS, joins: vec![Pid], v2_dir: true, ..Default::default() });
        assert_eq!(t.processes.len(), 2);
        assert_eq!(t.stages, [Stage::InitPid, Stage::IdMaps, Stage::Ready, Stage::Go, Stage::Exec]);
    }

    #[test]
    fn a_joined_user_namespace_is_joined_first_by_the_intermediate() {
        let t = plan(&Facts { new: libc::CLONE_NEWNS | libc::CLONE_NEWPID, joins: vec![Network, User], v1_dirs: true, ..Default::default() });
        let mid = t.intermediate().unwrap();
        assert_eq!(mid.joins, [User, Network], "user first: the rest are joined with its capabilities");
        assert_eq!(t.init().clone_flags, (libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64, "made inside the joined user namespace");
        assert_eq!(t.init().placement, Placement::ByRt);
        assert!(!t.stages.contains(&Stage::IdMaps), "a joined user namespace has its maps");
    }

    #[test]
    fn an_unprivileged_exec_joins_through_an_intermediate() {
        let t = plan_exec(&ExecFacts { joins: vec![Mount, Pid, User, Ipc], v2_dir: true, v1_dirs: false, console_to_rt: false, rt_privileged: false });
        assert!(t.parent_joins.is_empty(), "rt may not join a pid namespace without CAP_SYS_ADMIN");
        let [mid, p] = &t.processes[..] else { panic!("{t:?}") };
        assert_eq!(mid.joins, [User, Ipc, Pid, Mount], "user first: its capabilities for the rest");
        assert!(p.cloned_by_intermediate && p.joins.is_empty());
        assert_eq!(t.stages, [Stage::InitPid, Stage::Ready, Stage::Go, Stage::Exec]);
    }

    #[test]
    fn a_new_time_namespace_is_made_by_rt() {
        let t = plan(&Facts { new: NEW | namespaces::CLONE_NEWTIME, v2_dir: true, ..Default::default() });
        assert!(t.time_namespace);
        assert_eq!(t.init().clone_flags & namespaces::CLONE_NEWTIME as u64, 0);
        assert_eq!(t.processes.len(), 1);
    }
}
