import BudgetEngine
import Foundation

/// A worker process started with `posix_spawn`, and the two pipes to it:
///
///     fd 0 (its stdin)  ← jobs, one line each, from the parent
///     fd 3              → messages to the parent (results, heartbeats), one line each
///     fd 4              the sweep's lock, held for as long as any of its processes lives
///
/// Its stdout and stderr are the parent's own, so whatever a script prints passes through
/// untouched, with or without newlines: nothing the script prints can be mistaken for a
/// message. The child runs in a process group of its own, so a Ctrl-C at the terminal
/// reaches only the parent, which decides what the workers do (see `StopSignals`).
final class ChildProcess {
    let pid: pid_t
    /// The parent's ends: jobs are written to `jobs`, messages read from `messages`.
    private(set) var jobs: Int32
    let messages: Int32
    private var exitStatus: Int32?

    /// Held from creating the pipes to starting the child, so that no other thread's child
    /// inherits them before they are marked close-on-exec.
    private static let spawnLock = NSLock()

    init(executable: String, arguments: [String], lock: Int32? = nil) throws {
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        var jobPipe: [Int32] = [0, 0], messagePipe: [Int32] = [0, 0]
        guard pipe(&jobPipe) == 0 else { throw Self.error("cannot create a pipe") }
        guard pipe(&messagePipe) == 0 else {
            close(jobPipe[0]); close(jobPipe[1])
            throw Self.error("cannot create a pipe")
        }
        for fd in jobPipe + messagePipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(jobPipe[0]); close(messagePipe[1]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, jobPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, messagePipe[1], 3)
        if let lock { posix_spawn_file_actions_adddup2(&actions, lock, 4) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group; signals the parent ignores or catches start at their defaults.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, s) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv + [nil], environ)
        guard status == 0 else {
            close(jobPipe[1]); close(messagePipe[0])
            throw Self.error("cannot start a worker process (\(executable)): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        jobs = jobPipe[1]
        messages = messagePipe[0]
        WorkerRegistry.shared.add(pid)
    }

    deinit {
        closeJobs()
        close(messages)
    }

    /// Sends one job line; false when the worker can no longer read (it died).
    func send(_ line: String) -> Bool { jobs >= 0 && LineChannel.writeAll(jobs, line + "\n") }

    /// Closes the job pipe: the worker exits once its current job is done.
    func closeJobs() {
        guard jobs >= 0 else { return }
        close(jobs)
        jobs = -1
    }

    /// Kills the worker and reaps it.
    func kill() {
        if exitStatus == nil { Glibc.kill(pid, SIGKILL) }
        _ = wait(timeout: 10)
    }

    /// Waits up to `timeout` seconds for the worker to exit; returns its wait status, or nil
    /// if it is still running.
    @discardableResult
    func wait(timeout: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) {
                exitStatus = r == pid ? status : 0
                WorkerRegistry.shared.remove(pid)
                return exitStatus
            }
            if Date() >= deadline { return nil }
            usleep(20_000)
        }
    }

    /// How the worker ended, for messages: `exited with status 3`, `was killed by signal 9`.
    static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        return "was killed by signal \(signal)"
    }

    private static func error(_ message: String) -> EngineError { .training(message) }
}

/// The pids of running workers, so a stop signal can be passed on to all of them.
final class WorkerRegistry: @unchecked Sendable {
    static let shared = WorkerRegistry()
    private let lock = NSLock()
    private var pids = Set<pid_t>()

    func add(_ pid: pid_t) { lock.withLock { _ = pids.insert(pid) } }
    func remove(_ pid: pid_t) { lock.withLock { _ = pids.remove(pid) } }

    /// Sends `signal` to every running worker.
    func signalAll(_ signal: Int32) {
        for pid in lock.withLock({ pids }) { kill(pid, signal) }
    }
}
