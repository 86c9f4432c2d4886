import Foundation

/// Lines over a pipe: the worker protocol's transport. Reads are bounded in time (a worker
/// that stops answering is noticed) and in size (a line longer than `maximumLine` bytes is an
/// error, not an unbounded allocation).
final class LineChannel {
    static let maximumLine = 1 << 20

    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    enum Reading: Equatable {
        case line(String)
        /// Nothing arrived within the time allowed.
        case timedOut
        /// The other end closed (the process exited) or the stream broke.
        case closed(String)
    }

    /// The next line, waiting at most `timeout` seconds for it.
    func readLine(timeout: Double) -> Reading {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return .line(line)
            }
            guard buffer.count <= Self.maximumLine else { return .closed("sent a line of more than \(Self.maximumLine) bytes") }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return .timedOut }
            var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pollfd, 1, Int32(min(remaining * 1000, 1000).rounded(.up)))
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            guard n > 0 else { return .closed(n == 0 ? "closed its channel" : String(cString: strerror(errno))) }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Writes all of `text`; false when the other end is gone.
    @discardableResult
    static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        var bytes = Array(text.utf8)
        var done = 0
        return bytes.withUnsafeMutableBytes { buffer -> Bool in
            guard let base = buffer.baseAddress else { return true }
            while done < buffer.count {
                let n = write(fd, base + done, buffer.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
    }
}
