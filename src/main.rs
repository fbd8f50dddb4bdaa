//! rt's command line: runc's verbs and flags, each verb a small function over the library.
// No std runtime start-up (`lang_start`): it reads /proc/self/maps for the main thread's guard
// page, sets up a sigaltstack with SIGSEGV/SIGBUS handlers, and sets SIGPIPE to SIG_IGN, which
// the container's process would inherit through execve. rt needs none of it.
#![no_main]

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOC: rt::arena::Bump = rt::arena::Bump;

use rt::error::Error;
use rt::launch::CreateOptions;
use rt::verbs::{self, Global};
use rt::{logging, spec};

#[derive(Parser)]
#[command(name = "rt", about = "rt: an Open Container Initiative runtime (runc-compatible)", disable_version_flag = true, subcommand_required = false)]
struct Cli {
    /// root directory for storage of container state (this should be located in tmpfs); default
    /// /run/rt, or $XDG_RUNTIME_DIR/rt for a user other than root
    #[arg(long)]
    root: Option<PathBuf>,
    /// set the log file to write rt logs to (default is stderr)
    #[arg(long)]
    log: Option<PathBuf>,
    /// set the log format ('text' (default), or 'json')
    #[arg(long = "log-format", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// enable debug logging
    #[arg(long)]
    debug: bool,
    /// enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name"
    #[arg(long = "systemd-cgroup")]
    systemd_cgroup: bool,
    /// ignore cgroup permission errors ('true', 'false', or 'auto')
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    rootless: Option<String>,
    /// accepted for runc compatibility; rt has no checkpoint/restore
    #[arg(long, hide = true)]
    criu: Option<String>,
    /// print the version
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// path to the root of the bundle directory, defaults to the current directory
    #[arg(short = 'b', long)]
    bundle: Option<PathBuf>,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// specify the file to write the process id to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// do not use pivot root to jail process inside rootfs
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the init process (a pidfd)
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
}

#[derive(Subcommand)]
#[command(defer = true)]
enum Cmd {
    /// create a container
    Create {
        /// the container id, or a bundle path (`dir/`), whose name is then the id
        id: String,
        #[command(flatten)]
        args: CreateArgs,
    },
    /// executes the user defined process in a created container
    Start { id: String },
    /// create and run a container
    Run {
        /// the container id, or a bundle path (`dir/`), whose name is then the id
        id: String,
        #[command(flatten)]
        args: CreateArgs,
        /// detach from the container's process
        #[arg(short = 'd', long)]
        detach: bool,
        /// do not delete the container after it exits
        #[arg(long)]
        keep: bool,
        /// accepted for runc compatibility: rt always reaps what it started
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
    },
    /// execute new process inside the container
    Exec(Box<ExecArgs>),
    /// output the state of a container
    State { id: String },
    /// lists containers started by rt with the given root
    List {
        /// select one of: table or json
        #[arg(short = 'f', long, value_enum, default_value = "table")]
        format: ListFormat,
        /// display only container IDs
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// kill sends the specified signal (default: SIGTERM) to the container's init process
    Kill {
        /// send the specified signal to all processes inside the container
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// delete any resources held by the container often used with detached container
    Delete {
        /// forcibly deletes the container if it is still running (uses SIGKILL)
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// create a new specification file
    Spec {
        /// path to the root of the bundle directory
        #[arg(short = 'b', long)]
        bundle: Option<PathBuf>,
        /// generate a configuration for a rootless container
        #[arg(long)]
        rootless: bool,
    },
    /// show the enabled features
    Features,
    /// pause suspends all processes inside the container
    Pause { id: String },
    /// resumes all processes that have been previously paused
    Resume { id: String },
    /// update container resource constraints
    Update {
        id: String,
        #[command(flatten)]
        flags: Box<UpdateArgs>,
    },
    /// display container events such as OOM notifications, cpu, memory, and IO usage statistics
    Events {
        id: String,
        /// set the stats collection interval
        #[arg(long, default_value = "5s")]
        interval: String,
        /// display the container's stats then exit
        #[arg(long)]
        stats: bool,
    },
    /// ps displays the processes running inside a container
    Ps {
        /// select one of: table or json
        #[arg(short = 'f', long, value_enum, default_value = "table")]
        format: PsFormat,
        id: String,
        /// options passed to ps (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
}

#[no_mangle]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // std::env::args() is filled by lang_start on musl: take the arguments from here.
    let args: Vec<std::ffi::OsString> = (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: the C runtime passes argc valid NUL-terminated strings in argv.
            let c = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(c.to_bytes()).to_owned()
        })
        .collect();
    open_missing_stdio();
    let code = rt_main(args);
    code.into()
}

/// An rt started with stdin, stdout or stderr closed would hand those numbers to the first
/// files it opens (a state.json, a cgroup file), then write its errors into them, and give them
/// to the container as its stdio: /dev/null takes their place first (two calls when all three
/// are open).
fn open_missing_stdio() {
    use std::os::fd::IntoRawFd;
    while let Ok(fd) = rt::sys::open(Path::new("/dev/null"), libc::O_RDWR, 0) {
        if std::os::fd::AsRawFd::as_raw_fd(&fd) > 2 {
            break;
        }
        // kept as 0, 1 or 2 for good, inherited as such
        let _ = rt::sys::clear_cloexec(fd.into_raw_fd());
    }
}

/// What a verb prints on stdout, written whole: a closed or broken stdout is an error of its
/// own (exit 1), never a panic.
fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes()).and_then(|()| o.flush()).map_err(|e| anyhow::anyhow!("write to standard output: {}", rt::error::Errno::from_io(&e)))
}

fn rt_main(args: Vec<std::ffi::OsString>) -> u8 {
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            if e.use_stderr() {
                // The engines read the error from the log file: an unknown verb or flag too.
                let (log, format) = logging::flags_of(&args);
                if log.is_some() {
                    logging::init(log, format, false);
                    let first = e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
                    logging::error(&first);
                }
            }
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    logging::init(cli.log.clone(), cli.log_format.into(), cli.debug);
    if cli.version {
        return match out(&version()) {
            Ok(()) => 0,
            Err(e) => {
                logging::report_error(&format!("{e:#}"));
                1
            }
        };
    }
    let Some(cmd) = cli.cmd else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return 0;
    };
    let rootless = match verbs::Rootless::parse(cli.rootless.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            logging::report_error(&e.to_string());
            return 1;
        }
    };
    let root = cli.root.unwrap_or_else(verbs::default_root);
    let g = Global { root: std::path::absolute(&root).unwrap_or(root), systemd_cgroup: cli.systemd_cgroup, rootless: rootless.resolve() };
    match dispatch(&g, cmd) {
        Ok(code) => code as u8,
        Err(e) => {
            // `{:#}`: the context and rt's own error on one line, "rt create failed: mounts[3]…"
            logging::report_error(&format!("{e:#}"));
            // runc's exec says 255 for every failure of its own, whatever the process's code
            // would have been.
            if e.is::<ExecFailed>() {
                255
            } else {
                1
            }
        }
    }
}

/// Runs a verb. The edge of rt: its typed errors become anyhow's, with runc's "rt create
/// failed" in front where runc puts it.
fn dispatch(g: &Global, cmd: Cmd) -> anyhow::Result<i32> {
    use anyhow::Context as _;
    let done = |r: Result<(), Error>| r.map(|()| 0).map_err(anyhow::Error::from);
    match cmd {
        Cmd::Create { id, args } => {
            let (id, o) = create_options(id, args).context("rt create failed")?;
            verbs::create::create(g, &id, &o).context("rt create failed")?;
            Ok(0)
        }
        Cmd::Run { id, args, detach, keep, no_subreaper: _ } => {
            let (id, o) = create_options(id, args).context("rt run failed")?;
            Ok(verbs::create::run(g, &id, &o, detach, keep).context("rt run failed")?)
        }
        Cmd::Exec(a) => {
            let (id, o) = a.into_options();
            Ok(verbs::exec::exec(g, &id, &o).map_err(ExecFailed)?)
        }
        Cmd::Start { id } => done(verbs::start::start(g, &id)),
        Cmd::State { id } => {
            out(&verbs::state::state(g, &id)?)?;
            Ok(0)
        }
        Cmd::List { format, quiet } => {
            out(&verbs::state::list(g, format.into(), quiet)?)?;
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => done(verbs::kill::kill(g, &id, signal.as_deref().unwrap_or("SIGTERM"), all)),
        Cmd::Delete { force, id } => done(verbs::delete::delete(g, &id, force)),
        Cmd::Spec { bundle, rootless } => done(verbs::spec::write_spec(bundle.as_deref(), rootless)),
        Cmd::Features => {
            out(&verbs::features::json()?)?;
            Ok(0)
        }
        Cmd::Pause { id } => done(verbs::pause::pause(g, &id)),
        Cmd::Resume { id } => done(verbs::pause::resume(g, &id)),
        Cmd::Update { id, flags } => done(verbs::update::update_from(g, &id, &(*flags).into())),
        Cmd::Events { id, interval, stats } => done(verbs::events::events(g, &id, &interval, stats, &mut std::io::stdout().lock())),
        Cmd::Ps { format, id, ps_args } => {
            out(&verbs::ps::ps(g, &id, format.into(), &ps_args)?)?;
            Ok(0)
        }
    }
}

/// The id and the bundle: `rt run dir/` takes the bundle from the path and the id from its
/// name; otherwise the argument is the id and the bundle is `-b` or the current directory.
fn create_options(arg: String, a: CreateArgs) -> Result<(String, CreateOptions), Error> {
    let (id, bundle) = match a.bundle {
        Some(b) => (arg, b),
        None if looks_like_bundle(&arg) => {
            // absolute, and without the trailing slash the user typed
            let abs: PathBuf = std::path::absolute(&arg).map_err(|e| Error::msg(format!("bundle {arg}: {e}")))?.components().collect();
            let name = abs.components().next_back().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
            (name, abs)
        }
        None => (arg, PathBuf::from(".")),
    };
    let o = CreateOptions {
        bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        detached: false,
        pidfd_socket: a.pidfd_socket,
        rootless: false,
    };
    Ok((id, o))
}

fn looks_like_bundle(arg: &str) -> bool {
    arg.contains('/') || Path::new(arg).join("config.json").is_file()
}

fn version() -> String {
    format!("rt version {}\ncommit: {}\nspec: {}\n", env!("CARGO_PKG_VERSION"), option_env!("RT_COMMIT").unwrap_or("unknown"), spec::OCI_VERSION)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

impl From<ListFormat> for verbs::state::ListFormat {
    fn from(f: ListFormat) -> Self {
        match f {
            ListFormat::Table => verbs::state::ListFormat::Table,
            ListFormat::Json => verbs::state::ListFormat::Json,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PsFormat {
    Table,
    Json,
}

impl From<PsFormat> for verbs::ps::PsFormat {
    fn from(f: PsFormat) -> Self {
        match f {
            PsFormat::Table => verbs::ps::PsFormat::Table,
            PsFormat::Json => verbs::ps::PsFormat::Json,
        }
    }
}

/// `update`'s flags, as runc has them; their values stay text for verbs::update to parse.
#[derive(Debug, Clone, Default, clap::Args)]
struct UpdateArgs {
    /// path to the file containing the resources to update or '-' to read from the standard input
    /// (runc's LinuxResources JSON; zero or empty values mean "unchanged"); all other options are then ignored
    #[arg(short = 'r', long)]
    resources: Option<String>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long = "blkio-weight", value_name = "value")]
    blkio_weight: Option<String>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long = "cpu-period", value_name = "value")]
    cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long = "cpu-quota", value_name = "value", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst in a given period
    #[arg(long = "cpu-burst", value_name = "value")]
    cpu_burst: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long = "cpu-share", value_name = "value")]
    cpu_share: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long = "cpu-rt-period", value_name = "value")]
    cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long = "cpu-rt-runtime", value_name = "value", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<String>,
    /// set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE
    #[arg(long = "cpu-idle", value_name = "value")]
    cpu_idle: Option<String>,
    /// CPU(s) to use
    #[arg(long = "cpuset-cpus", value_name = "value")]
    cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long = "cpuset-mems", value_name = "value")]
    cpuset_mems: Option<String>,
    /// Memory limit (in bytes; or with a unit: 64m, 1g)
    #[arg(long, value_name = "value", allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    #[arg(long = "memory-reservation", value_name = "value", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "value", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long = "pids-limit", value_name = "value", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// Kernel memory limit: not supported (kernels since 5.16 have no kernel memory limits)
    #[arg(long = "kernel-memory", value_name = "value", hide = true, allow_hyphen_values = true)]
    kernel_memory: Option<String>,
    /// Kernel memory limit for TCP buffers: not supported
    #[arg(long = "kernel-memory-tcp", value_name = "value", hide = true, allow_hyphen_values = true)]
    kernel_memory_tcp: Option<String>,
    /// The string of Intel RDT/CAT L3 cache schema: not supported
    #[arg(long = "l3-cache-schema", value_name = "value", hide = true)]
    l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema: not supported
    #[arg(long = "mem-bw-schema", value_name = "value", hide = true)]
    mem_bw_schema: Option<String>,
}

impl From<UpdateArgs> for verbs::update::UpdateFlags {
    fn from(a: UpdateArgs) -> Self {
        let UpdateArgs {
            resources,
            blkio_weight,
            cpu_period,
            cpu_quota,
            cpu_burst,
            cpu_share,
            cpu_rt_period,
            cpu_rt_runtime,
            cpu_idle,
            cpuset_cpus,
            cpuset_mems,
            memory,
            memory_reservation,
            memory_swap,
            pids_limit,
            kernel_memory,
            kernel_memory_tcp,
            l3_cache_schema,
            mem_bw_schema,
        } = a;
        verbs::update::UpdateFlags {
            resources,
            blkio_weight,
            cpu_period,
            cpu_quota,
            cpu_burst,
            cpu_share,
            cpu_rt_period,
            cpu_rt_runtime,
            cpu_idle,
            cpuset_cpus,
            cpuset_mems,
            memory,
            memory_reservation,
            memory_swap,
            pids_limit,
            kernel_memory,
            kernel_memory_tcp,
            l3_cache_schema,
            mem_bw_schema,
        }
    }
}

/// `exec`'s failures: runc words them `exec failed: …` and exits 255.
#[derive(Debug)]
struct ExecFailed(Error);

impl std::fmt::Display for ExecFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exec failed: {}", self.0)
    }
}

impl std::error::Error for ExecFailed {}

/// `exec`'s flags, as runc has them, in any order around the id; what follows the id and is not
/// a flag of exec's is the command.
#[derive(clap::Args)]
struct ExecArgs {
    /// path to the process.json
    #[arg(short = 'p', long = "process")]
    process: Option<PathBuf>,
    /// detach from the container's process
    #[arg(short = 'd', long)]
    detach: bool,
    /// specify the file to write the process id to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// allocate a pseudo-TTY
    #[arg(short = 't', long)]
    tty: bool,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the exec'd process (a pidfd)
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
    /// Pass N additional file descriptors to the container (stdio + N in total)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// current working directory in the container
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// UID (format: <uid>[:<gid>])
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// additional gids
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// add a capability to the bounding set for the process
    #[arg(short = 'c', long = "cap")]
    cap: Vec<String>,
    /// set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// set the apparmor profile for the process
    #[arg(long)]
    apparmor: Option<String>,
    /// set the asm process label for the process commonly used with selinux
    #[arg(long = "process-label")]
    process_label: Option<String>,
    /// allow exec in a paused container
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    /// run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.
    #[arg(long)]
    cgroup: Vec<String>,
    /// the container id
    id: String,
    /// the command and its arguments (not with --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl ExecArgs {
    fn into_options(self) -> (String, rt::launch::ExecOptions) {
        let o = rt::launch::ExecOptions {
            process_file: self.process,
            args: self.command,
            detach: self.detach,
            pid_file: self.pid_file,
            tty: self.tty,
            console_socket: self.console_socket,
            preserve_fds: self.preserve_fds,
            cwd: self.cwd,
            env: self.env,
            user: self.user,
            additional_gids: self.additional_gids,
            caps: self.cap,
            no_new_privs: self.no_new_privs,
            apparmor: self.apparmor,
            process_label: self.process_label,
            ignore_paused: self.ignore_paused,
            cgroup: self.cgroup,
            pidfd_socket: self.pidfd_socket,
        };
        (self.id, o)
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl From<LogFormat> for logging::Format {
    fn from(f: LogFormat) -> Self {
        match f {
            LogFormat::Text => logging::Format::Text,
            LogFormat::Json => logging::Format::Json,
        }
    }
}
