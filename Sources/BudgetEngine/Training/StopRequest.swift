import Synchronization

/// A request to stop training, set by a signal handler (SIGINT, SIGTERM) or a watchdog: every
/// running trainer sees it at its next step boundary, saves a checkpoint if it has somewhere
/// to save one, and returns with status `interrupted`.
///
/// `request(signal:)` only stores into a lock-free atomic, so a signal handler may call it
/// (call `prepare()` before installing the handler, so nothing is initialised lazily there).
public enum StopRequest {
    private static let pending = Atomic<Int32>(0)

    /// Touches the atomic so that its lazy initialisation happens now, not in a handler.
    public static func prepare() { _ = pending.load(ordering: .relaxed) }

    /// Asks every trainer to stop; `signal` is the signal number behind it (0 for none).
    public static func request(signal: Int32) { pending.store(signal == 0 ? -1 : signal, ordering: .relaxed) }

    public static var isRequested: Bool { pending.load(ordering: .relaxed) != 0 }

    /// The signal that asked for the stop (nil when none did, or no stop was asked for).
    public static var signal: Int32? {
        let s = pending.load(ordering: .relaxed)
        return s > 0 ? s : nil
    }

    /// Clears the request (tests).
    public static func reset() { pending.store(0, ordering: .relaxed) }
}
