//! rt's command line: runc's verbs and flags, each verb a small function over the library.
// No std runtime start-up (`lang_start`): it reads /proc/self/maps for the main thread's guard
// page, sets up a sigaltstack with SIGSEGV/SIGBUS handlers, and sets SIGPIPE to SIG_IGN, which
// the container's process would inherit through execve. rt needs none of it.
#![no_main]

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOC: rt::arena::Bump = rt::arena::Bump;

use rt::container::{self, CreateOptions, Global, ListFormat};
use rt::error::Error;
use rt::{logging, spec};

#[derive(Parser)]
#[command(name = "rt", about = "rt: an Open Container Initiative runtime (runc-compatible)", disable_version_flag = true, subcommand_required = false)]
struct Cli {
    /// root directory for storage of container state (this should be located in tmpfs)
    #[arg(long, default_value = "/run/rt")]
    root: PathBuf,
    /// set the log file to write rt logs to (default is stderr)
    #[arg(long)]
    log: Option<PathBuf>,
    /// set the log format ('text' (default), or 'json')
    #[arg(long = "log-format", value_enum, default_value = "text")]
    log_format: logging::Format,
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
}

#[derive(Subcommand)]
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
        flags: Box<rt::control::UpdateFlags>,
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
        format: rt::control::PsFormat,
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
    let code = rt_main(args);
    // lang_start would flush stdout at exit; `print!` without a newline waits in the buffer.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    code.into()
}

fn rt_main(args: Vec<std::ffi::OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    logging::init(cli.log.clone(), cli.log_format, cli.debug);
    if cli.version {
        print!("{}", version());
        return 0;
    }
    let Some(cmd) = cli.cmd else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return 0;
    };
    let g = Global { root: std::path::absolute(&cli.root).unwrap_or(cli.root), systemd_cgroup: cli.systemd_cgroup };
    match dispatch(&g, cmd) {
        Ok(code) => code as u8,
        Err((verb, e)) => {
            let msg = match verb {
                Some(v) => format!("rt {v} failed: {e}"),
                None => e.to_string(),
            };
            logging::report_error(&msg);
            1
        }
    }
}

/// Runs a verb; an error comes back with the verb name when runc prefixes it ("rt create failed").
fn dispatch(g: &Global, cmd: Cmd) -> Result<i32, (Option<&'static str>, Error)> {
    let plain = |e| (None, e);
    match cmd {
        Cmd::Create { id, args } => {
            let (id, o) = create_options(id, args).map_err(|e| (Some("create"), e))?;
            container::create(g, &id, &o).map_err(|e| (Some("create"), e))?;
            Ok(0)
        }
        Cmd::Run { id, args, detach, keep, no_subreaper: _ } => {
            let (id, o) = create_options(id, args).map_err(|e| (Some("run"), e))?;
            container::run(g, &id, &o, detach, keep).map_err(|e| (Some("run"), e))
        }
        Cmd::Start { id } => container::start(g, &id).map(|()| 0).map_err(plain),
        Cmd::State { id } => {
            print!("{}", container::state(g, &id).map_err(plain)?);
            Ok(0)
        }
        Cmd::List { format, quiet } => {
            print!("{}", container::list(g, format, quiet).map_err(plain)?);
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => container::kill(g, &id, signal.as_deref().unwrap_or("SIGTERM"), all).map(|()| 0).map_err(plain),
        Cmd::Delete { force, id } => container::delete(g, &id, force).map(|()| 0).map_err(plain),
        Cmd::Spec { bundle, rootless } => write_spec(bundle.as_deref(), rootless).map(|()| 0).map_err(plain),
        Cmd::Features => {
            print!("{}", rt::features::json().map_err(plain)?);
            Ok(0)
        }
        Cmd::Pause { id } => rt::control::pause(g, &id).map(|()| 0).map_err(plain),
        Cmd::Resume { id } => rt::control::resume(g, &id).map(|()| 0).map_err(plain),
        Cmd::Update { id, flags } => rt::control::update_cli(g, &id, &flags).map(|()| 0).map_err(plain),
        Cmd::Events { id, interval, stats } => rt::control::events(g, &id, &interval, stats, &mut std::io::stdout().lock()).map(|()| 0).map_err(plain),
        Cmd::Ps { format, id, ps_args } => {
            print!("{}", rt::control::ps(g, &id, format, &ps_args).map_err(plain)?);
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
    };
    Ok((id, o))
}

fn looks_like_bundle(arg: &str) -> bool {
    arg.contains('/') || Path::new(arg).join("config.json").is_file()
}

fn version() -> String {
    format!("rt version {}\ncommit: {}\nspec: {}\n", env!("CARGO_PKG_VERSION"), option_env!("RT_COMMIT").unwrap_or("unknown"), spec::OCI_VERSION)
}

/// `spec`: runc's default config.json (tab-indented, no trailing newline), refusing to
/// overwrite one.
fn write_spec(bundle: Option<&Path>, rootless: bool) -> Result<(), Error> {
    let path = bundle.unwrap_or(Path::new(".")).join("config.json");
    if path.exists() {
        return Err(Error::msg("File config.json exists. Remove it first"));
    }
    let text = spec::default_config(rootless);
    std::fs::write(&path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))
}
