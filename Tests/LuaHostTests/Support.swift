import Foundation
import LuaHost
import Testing

/// A fresh directory for one test's scripts and outputs, removed afterwards.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "budgetrain-lua-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `contents` to `name` (creating folders) and returns the file's path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func read(_ name: String) throws -> String { try String(contentsOfFile: path + "/" + name, encoding: .utf8) }
}

/// Lua helpers prepended to test scripts: `blobs(n, seed)`, four blobs in 2-d (labels
/// 0 ... 3), small enough that a run takes milliseconds, and `mlp()`, a 2-16-4 MLP.
let luaPrelude = """
    local function blobs(n, seed)
      math.randomseed(seed)
      local centers = { { -2, -2 }, { 2, -2 }, { -2, 2 }, { 2, 2 } }
      local inputs, labels = {}, {}
      for i = 1, n do
        local c = (i - 1) % 4
        inputs[i] = { centers[c + 1][1] + math.random() - 0.5, centers[c + 1][2] + math.random() - 0.5 }
        labels[i] = c
      end
      return data.from_table { inputs = inputs, labels = labels, classes = 4 }
    end
    local function mlp() return nn.Sequential { nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 4) } end

    """

/// The line of a test script where the code after `luaPrelude` starts.
let firstLineAfterPrelude = luaPrelude.filter { $0 == "\n" }.count + 1

/// Runs `source` (written to `name` in `dir`) in a new host and returns the host, to read
/// the globals the script left.
func runScript(_ source: String, in dir: TemporaryDirectory, name: String = "exp.lua",
               arguments: [String] = [], options: ScriptHost.Options = ScriptHost.Options()) throws -> ScriptHost {
    let path = try dir.write(name, source)
    let host = try ScriptHost(options: options)
    try host.runScript(at: path, arguments: arguments)
    return host
}

/// Runs `source` as a script file `name` (in a temporary directory) in a new host and
/// returns the host, to read the globals the script left.
@discardableResult
func runLua(_ source: String, name: String = "exp.lua", options: ScriptHost.Options = ScriptHost.Options()) throws -> ScriptHost {
    let dir = try TemporaryDirectory()
    return try runScript(source, in: dir, name: name, options: options)
}

/// The error message a script fails with when run in-process (nil if it succeeds).
func scriptError(_ source: String, in dir: TemporaryDirectory, name: String = "exp.lua",
                 options: ScriptHost.Options = ScriptHost.Options()) -> String? {
    do {
        _ = try runScript(source, in: dir, name: name, options: options)
        return nil
    } catch {
        return userMessage(for: error)
    }
}

/// The outcome of running the `budgetrain` executable.
struct ProcessOutcome {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The `budgetrain` executable built next to the test bundle (`swift build --build-tests`
/// builds both into `.build/<configuration>/`).
func budgetrainExecutable() throws -> String {
    let candidates = [
        Bundle.main.executablePath.map { ($0 as NSString).deletingLastPathComponent },
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { ($0 as NSString).deletingLastPathComponent },
        Bundle.main.bundlePath,
        (Bundle.main.bundlePath as NSString).deletingLastPathComponent,
    ].compactMap { $0 }
    for dir in candidates {
        let path = dir + "/budgetrain"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw TestSetupError("budgetrain executable not found next to the tests (looked in \(candidates)); run `swift build --build-tests` first")
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs `budgetrain` with `arguments` in `directory` and collects its outputs.
func runBudgetrain(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> ProcessOutcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try budgetrainExecutable())
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain both pipes before waiting, so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessOutcome(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// The objects of a JSON-lines file of flat objects, each value as its raw text (numbers are
/// read with `Double(_:)`, which is exact, unlike some JSON parsers).
func jsonLines(_ text: String) throws -> [[String: String]] {
    try text.split(separator: "\n").map { line in
        guard line.hasPrefix("{"), line.hasSuffix("}") else { throw TestSetupError("not a JSON object: \(line)") }
        var object: [String: String] = [:]
        for pair in line.dropFirst().dropLast().split(separator: ",") {
            let parts = pair.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { throw TestSetupError("not a flat JSON object: \(line)") }
            object[parts[0].trimmingCharacters(in: CharacterSet(charactersIn: "\""))] = String(parts[1])
        }
        return object
    }
}
