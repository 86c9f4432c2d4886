import Foundation
import TestSupport
import Testing

/// Hostile and absurd inputs to the `budgetrain` executable: scripts, flags and data files.
/// Each must end in exit status 2 with a message naming the fault, never a trap, a segfault,
/// a hang or an allocation the machine cannot hold, and must leave no results file half
/// written.
@Suite struct BadInputTests {
    /// One bad input: a script run as `budgetrain <command> exp.lua --quiet <flags>` (or the
    /// whole command line, when `commandLine` is given) in a fresh folder holding `files`.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var script = ""
        var flags: [String] = []
        var commandLine: [String]?
        var files: [String: [UInt8]] = [:]
        var environment: [String: String] = [:]
        /// Fragments the message must contain.
        var expect: [String]
        var testDescription: String { name }
    }

    @Test(arguments: scripts + flags + dataFiles + sandboxed)
    func isAnErrorNamingTheFault(_ c: Case) throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", c.script)
        for (name, bytes) in c.files {
            let path = dir.path + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let arguments = c.commandLine ?? ["run", "exp.lua", "--quiet"] + c.flags
        let r = try runBudgetrain(arguments, in: dir.path, environment: c.environment)
        #expect(r.status == 2, "\(c.name): status \(r.status)\n\(r.stderr)")
        for fragment in c.expect {
            #expect(r.stderr.contains(fragment), "\(c.name): no '\(fragment)' in\n\(r.stderr)")
        }
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Program crashed"), "\(c.name): \(r.stderr)")
        try expectNothingHalfWritten(in: dir.path)
    }

    /// Every results.csv under `folder` ends with a whole line of as many cells as its header,
    /// and no temporary file of an atomic write is left.
    func expectNothingHalfWritten(in folder: String) throws {
        let files = FileManager.default.enumerator(atPath: folder)?.allObjects.compactMap { $0 as? String } ?? []
        for file in files {
            #expect(!file.contains(".tmp-"), "a temporary file was left: \(file)")
            guard file.hasSuffix("results.csv") else { continue }
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            #expect(text.hasSuffix("\n"), "\(file) ends in a partial line")
            let lines = text.split(separator: "\n")
            let columns = lines.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).count } ?? 0
            for line in lines.dropFirst() where !line.contains("\"") {
                #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == columns, "\(file): \(line)")
            }
        }
    }

    // MARK: Scripts

    static let sparse = "(function() local t = {} for k = 40, 0, -1 do t[2^k] = X end return t end)()"

    static let scripts: [Case] = [
        Case(name: "Linear of 1e9 by 1e9", script: "nn.Linear(1e9, 1e9)",
             expect: ["exp.lua:1:", "Linear(1000000000 -> 1000000000) weight", "a tensor holds at most 2147483647"]),
        Case(name: "Linear of 1e5 by 1e5 (40 GB)", script: "nn.Linear(1e5, 1e5)",
             expect: ["Linear(100000 -> 100000) weight: shape [100000, 100000] holds 10000000000 values"]),
        Case(name: "Linear whose weight overflows an Int", script: "nn.Linear(2^61, 8)",
             expect: ["weight: shape [8, 2305843009213693952] holds more values than an Int can count"]),
        Case(name: "Linear beyond the memory limit", script: "nn.Linear(5000, 5000)",
             environment: ["BUDGETRAIN_MEMORY_LIMIT": "100000000"],
             expect: ["Linear(5000 -> 5000) weight: needs 400 MB, more than this machine's memory (100 MB)"]),
        Case(name: "Conv2d padding 2^62", script: "nn.Conv2d(1, 1, 3, { padding = 2^62 })",
             expect: ["Conv2d: padding must be at most 1048576, got 4611686018427387904"]),
        Case(name: "Conv2d of 2^40 channels", script: "nn.Conv2d(2^40, 2^40, 3)",
             expect: ["Conv2d(1099511627776 -> 1099511627776, 3x3) weight", "more values than an Int can count"]),
        Case(name: "BatchNorm of 2^40 channels", script: "nn.BatchNorm2d(2^40)",
             expect: ["BatchNorm2d(1099511627776) weight", "a tensor holds at most"]),
        Case(name: "Flatten output shape overflowing", script: "nn.Flatten():output_shape { 2^16, 2^16, 2^16, 2^16 }",
             expect: ["bad argument #1 to 'Module:output_shape' ([65536, 65536, 65536, 65536] holds more than 2147483647 values)"]),
        Case(name: "Conv2d output shape of a huge image", script: "nn.Conv2d(1, 1, 3):output_shape { 1, 2^40, 2^40 }",
             expect: ["bad argument #1 to 'Module:output_shape'", "holds more than 2147483647 values"]),
        Case(name: "Conv2d padded beyond the tensor bound", script: "nn.Conv2d(1, 1, 3, { padding = 2^20 }):output_shape { 1, 8, 8 }",
             expect: ["Conv2d(1 -> 1, 3x3, stride 1, padding 1048576)", "needs buffers of more than 2147483647 values"]),
        Case(name: "a non-positive sample size", script: "nn.Linear(2, 2):tree { -2 }",
             expect: ["bad argument #1 to 'Module:tree' (sizes must be positive, got -2)"]),
        Case(name: "from_table shape of 2^32 by 2^32", script: "data.from_table { inputs = { { 1 } }, labels = { 0 }, shape = { 2^32, 2^32 } }",
             expect: ["bad field 'shape' to 'data.from_table' ([4294967296, 4294967296] holds more values than an Int can count"]),
        Case(name: "from_table labels with #t = 2^40", script: "data.from_table { inputs = { { 1 } }, labels = \(sparse.replacingOccurrences(of: "X", with: "0")) }",
             expect: ["bad field 'labels' to 'data.from_table' (class index >= 0 expected at index 3, got nil)"]),
        Case(name: "Sequential of a table with #t = 2^40", script: "nn.Sequential(\(sparse.replacingOccurrences(of: "X", with: "nn.ReLU()")))",
             expect: ["bad argument #1 to 'nn.Sequential' (module expected at index 3, got nil)"]),
        Case(name: "step milestones with #t = 2^40", script: "schedule.step { milestones = \(sparse.replacingOccurrences(of: "X", with: "0.5")) }",
             expect: ["bad field 'milestones' to 'schedule.step' (number expected at index 3, got nil)"]),
        Case(name: "a crop of 2^62", script: "data.synthetic { kind = 'images', n = 8, size = 8 }:augment { crop = 2^62 }",
             expect: ["bad field 'crop' to 'Dataset:augment' (a padding of at most the image's side (8) expected, got 4611686018427387904)"]),
        Case(name: "batch_size 2^40", script: luaPrelude + "train { data = blobs(16, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, batch_size = 2^40, budget = { iterations = 2 } }",
             expect: ["batch_size 1099511627776 is larger than any dataset can be (at most 2147483647 examples)"]),
        Case(name: "synthetic data beyond the memory limit", script: "data.synthetic { n = 2^24, dimensions = 16 }",
             environment: ["BUDGETRAIN_MEMORY_LIMIT": "100000000"],
             expect: ["gaussian_blobs: 16777216 examples of 16 values: needs", "more than this machine's memory"]),
        Case(name: "spirals of 2^62 examples", script: "data.synthetic { kind = 'spirals', n = 2^62 }",
             expect: ["two_spirals: 4611686018427387904 examples of 2 values is too large"]),
        Case(name: "a ResNet of six billion layers", script: "require('budgetrain.models').resnet { depth = 6000000002 }",
             expect: ["bad field 'depth' to 'models.resnet' (6n + 2 expected, at most 1202"]),
        // Found by fuzz-lua-options on the code before this suite (an allocation of 2^40 floats).
        Case(name: "a ResNet stem of 2^32 input channels", script: "require('budgetrain.models').resnet { in_channels = 2^32 }",
             expect: ["Conv2d(4294967296 -> 16, 3x3) weight: shape [16, 4294967296, 3, 3] holds 618475290624 values"]),
        // Found by fuzz-lua-options (a 10-minute run): ipairs over a table whose __index never
        // ends looped for ever.
        Case(name: "an MLP whose hidden sizes never end",
             script: "require('budgetrain.models').mlp { hidden = setmetatable({}, { __index = function() return 1 end, __len = function() return 2^40 end }) }",
             expect: ["bad field 'hidden' to 'models.mlp' (a list of at most 1000 layer sizes expected)"]),
        Case(name: "an MLP of 2000 hidden layers", script: "local h = {} for i = 1, 2000 do h[i] = 4 end\nrequire('budgetrain.models').mlp { hidden = h }",
             expect: ["bad field 'hidden' to 'models.mlp'"]),
        Case(name: "schedule.truncated 200,000 times", script: "local s = schedule.linear()\nfor i = 1, 200000 do s = schedule.truncated(s) end",
             expect: ["exp.lua:2: truncated: schedules nest 201 levels deep; at most 200 are allowed"]),
        Case(name: "schedule.warmup 300 times", script: "local s = schedule.cosine()\nfor i = 1, 300 do s = schedule.warmup(0.1, s) end",
             expect: ["warmup: schedules nest 201 levels deep"]),
        Case(name: "modules wrapped 200,000 deep", script: "local m = nn.ReLU()\nfor i = 1, 200000 do m = nn.Sequential { m } end",
             expect: ["Sequential: the model would nest 201 levels deep; models nest at most 200"]),
        Case(name: "modules added 200,000 deep from the top", script: "local root = nn.Sequential()\nlocal c = root\nfor i = 1, 200000 do local n = nn.Sequential(); c:add(n); c = n end",
             expect: ["the model would nest 201 levels deep"]),
        Case(name: "residual blocks nested deep", script: "local m = nn.ReLU()\nfor i = 1, 300 do m = nn.Residual(m) end",
             expect: ["Residual: the model would nest 201 levels deep"]),
        Case(name: "a container inside itself", script: "local a = nn.Sequential()\nlocal b = nn.Sequential { a }\na:add(b)",
             expect: ["is already part of this model"]),
        Case(name: "a file handle as a Module", script: "debug.setmetatable(io.stdout, debug.getregistry()['budgetrain.Module'])\nio.stdout:parameter_count()",
             expect: ["exp.lua:2: a value that is not a budgetrain Module has the Module metatable (set with debug.setmetatable)"]),
        Case(name: "a file handle given to a binding", script: "debug.setmetatable(io.stdout, debug.getregistry()['budgetrain.Module'])\nnn.Sequential { io.stdout }",
             expect: ["module expected at index 1, got userdata (not a budgetrain Module)"]),
        // The module's finalizer is io's now, so its Swift object is never released: no leak
        // check for this one under scripts/sanitize.
        Case(name: "a Module as a file handle", script: "local m = nn.Linear(2, 2)\ndebug.setmetatable(m, getmetatable(io.stdout))\nm:write('x')",
             environment: ["ASAN_OPTIONS": "detect_leaks=0"], expect: ["attempt to use a closed file"]),
        Case(name: "a binding's upvalue replaced", script: "debug.setupvalue(nn.Linear, 1, 42)\nnn.Linear(1, 2)",
             expect: ["exp.lua:2: this budgetrain function's upvalue was replaced (debug.setupvalue): it cannot be called"]),
        Case(name: "schedule values for 2^31 steps", script: "schedule.linear():values(2^31)",
             expect: ["schedule values: steps must be in 1 ... 10000000, got 2147483648"]),
        Case(name: "a failing sweep writes whole rows", script: luaPrelude + """
            experiment { name = "bad", data = blobs(16, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 },
                         batch_size = 2^40, full_budget = { iterations = 2 }, schedules = { linear = schedule.linear() } }
            """, expect: ["batch_size 1099511627776 is larger than any dataset can be"]),
    ]

    // MARK: Flags

    static let flags: [Case] = [
        Case(name: "--threads 3000000000", script: "print(1)", flags: ["--threads", "3000000000"],
             expect: ["--threads must be in 1 ... 1024, got 3000000000"]),
        Case(name: "--jobs beyond reason", script: "print(1)", flags: ["--jobs", "100000"],
             expect: ["--jobs must be in 1 ... 256, got 100000"]),
        Case(name: "--threads 0", script: "print(1)", flags: ["--threads", "0"], expect: ["--threads must be at least 1, got 0"]),
        Case(name: "a negative seed", script: "print(1)", flags: ["--seed", "-1"], expect: ["--seed"]),
        Case(name: "schedule --steps beyond the preview's bound", commandLine: ["schedule", "schedule.linear()", "--steps", "20000000"],
             expect: ["steps must be in 1 ... 10000000, got 20000000"]),
        Case(name: "schedule with an unknown format", commandLine: ["schedule", "schedule.linear()", "--format", "png"], expect: ["--format"]),
    ]

    // MARK: Data files

    static func idxImages(count: UInt32, rows: UInt32, columns: UInt32, magic: UInt32 = 0x803, payload: [UInt8] = []) -> [UInt8] {
        [magic, count, rows, columns].flatMap { v in (0..<4).map { UInt8((v >> (24 - 8 * $0)) & 0xFF) } } + payload
    }

    static func cifarRecord(_ label: UInt8) -> [UInt8] { [label] + [UInt8](repeating: 7, count: 3072) }

    /// The four IDX files of a data set in `idx/`, valid but for the training images given.
    static func idxFolder(trainImages: [UInt8]) -> [String: [UInt8]] {
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 1, 3]  // magic 0x801, 1 label, label 3
        return [
            "idx/train-images-idx3-ubyte": trainImages, "idx/train-labels-idx1-ubyte": labels,
            "idx/t10k-images-idx3-ubyte": idxImages(count: 1, rows: 1, columns: 1, payload: [9]), "idx/t10k-labels-idx1-ubyte": labels,
        ]
    }

    static let dataFiles: [Case] = {
        let gzipped = { (bytes: [UInt8]) -> [UInt8] in (try? gzip(bytes)) ?? [] }
        let idx = "data.idx { dir = 'idx' }"
        let csvHeader = Array("a,b,label\n".utf8)
        return [
            Case(name: "an IDX gzip whose size field agrees modulo 2^32", script: idx,
                 files: idxFolder(trainImages: gzipped(idxImages(count: 1 << 16, rows: 256, columns: 256))),
                 expect: ["train-images-idx3-ubyte: the header declares 4294967312 bytes", "more than a gzip file of"]),
            Case(name: "an IDX header claiming 4 billion images", script: idx,
                 files: idxFolder(trainImages: idxImages(count: 0xFFFF_FFFF, rows: 28, columns: 28, payload: [1, 2, 3])),
                 expect: ["train-images-idx3-ubyte: truncated: expected 3367254359296 bytes"]),
            Case(name: "an IDX header whose sizes overflow", script: idx,
                 files: idxFolder(trainImages: idxImages(count: 0xFFFF_FFFF, rows: 0xFFFF_FFFF, columns: 0xFFFF_FFFF)),
                 expect: ["train-images-idx3-ubyte: header declares 4294967295 images of 4294967295×4294967295: too large"]),
            Case(name: "an IDX file with the wrong magic", script: idx,
                 files: idxFolder(trainImages: idxImages(count: 1, rows: 1, columns: 1, magic: 0x801, payload: [0])),
                 expect: ["not an IDX image file: magic number 0x00000801, expected 0x00000803"]),
            Case(name: "an IDX folder that is a file", script: "data.idx { dir = 'exp.lua' }", expect: ["exp.lua: not a directory"]),
            Case(name: "a truncated CIFAR batch", script: "data.cifar10 { dir = 'c' }",
                 files: ["c/data_batch_1.bin": Array((cifarRecord(1) + cifarRecord(2)).dropLast(10)), "c/test_batch.bin": cifarRecord(1)],
                 expect: ["data_batch_1.bin: truncated or not a cifar10 batch: 6136 bytes is 1 records of 3073 bytes and 3063 left over"]),
            Case(name: "a CIFAR label out of range", script: "data.cifar10 { dir = 'c' }",
                 files: ["c/data_batch_1.bin": cifarRecord(10), "c/test_batch.bin": cifarRecord(1)],
                 expect: ["data_batch_1.bin: record 0: label 10 is out of range 0 ..< 10"]),
            Case(name: "a CIFAR gzip bomb", script: "data.cifar10 { dir = 'c' }",
                 files: ["c/data_batch_1.bin": gzipped([UInt8](repeating: 0, count: 3073 * 4096)), "c/test_batch.bin": cifarRecord(1)],
                 environment: ["BUDGETRAIN_MEMORY_LIMIT": "16000000"],
                 expect: ["data_batch_1.bin:", "cifar10 images as Float32: needs", "more than this machine's memory"]),
            Case(name: "a CSV gzip bomb", script: "data.csv { path = 'bomb.csv.gz' }",
                 files: ["bomb.csv.gz": gzipped(Array(String(repeating: "0,0\n", count: 1 << 20).utf8))],
                 environment: ["BUDGETRAIN_MEMORY_LIMIT": "16000000"],
                 expect: ["bomb.csv.gz: decompresses to more than 2000000 bytes, more than a CSV file may hold here"]),
            Case(name: "a CSV feature that is no number", script: "data.csv { path = 'd.csv' }",
                 files: ["d.csv": csvHeader + Array("1,2,0\n3,x,1\n".utf8)],
                 expect: ["d.csv: line 3, column 'b' (index 1): 'x' is not a finite number"]),
            Case(name: "a CSV row with too few fields", script: "data.csv { path = 'd.csv' }",
                 files: ["d.csv": csvHeader + Array("1,2,0\n3\n".utf8)],
                 expect: ["d.csv: line 3: 1 fields, expected 3 (as on line 1)"]),
            Case(name: "a CSV that is not there", script: "data.csv { path = 'nowhere.csv' }", expect: ["nowhere.csv: no such file"]),
            Case(name: "a results.csv that is not one", commandLine: ["report", "r"], files: ["r/results.csv": Array("a,b\n1,2\n".utf8)],
                 expect: ["r/results.csv: line 1: not a budgetrain results header"]),
        ]
    }()

    // MARK: Sandbox

    static let sandboxed: [Case] = [
        Case(name: "io under --sandbox", script: "io.open('x', 'w')", flags: ["--sandbox"],
             expect: ["exp.lua:1: attempt to index a nil value (global 'io')"]),
        Case(name: "os.execute under --sandbox", script: "os.execute('true')", flags: ["--sandbox"],
             expect: ["attempt to call a nil value (field 'execute')"]),
        Case(name: "a binary chunk under --sandbox", script: "assert(load(string.dump(function() end)))", flags: ["--sandbox"],
             expect: ["attempt to load a binary chunk (mode is 't')"]),
        Case(name: "require outside the folder under --sandbox", script: "require('../outside')", flags: ["--sandbox"],
             expect: ["no module '../outside' under --sandbox"]),
        Case(name: "a step log outside the folder under --sandbox", script: "train { log = '/tmp/budgetrain-log.jsonl' }", flags: ["--sandbox"],
             expect: ["bad field 'log' to 'train' (under --sandbox a log is written below the current folder"]),
        Case(name: "a schedule expression that reaches outside", commandLine: ["schedule", "(function() io.open('x', 'w') return schedule.linear() end)()"],
             expect: ["attempt to index a nil value (global 'io')"]),
    ]

    // MARK: Inputs that must now work

    @Test func sixtyScriptArgumentsArrive() throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", "print(select('#', ...), #arg, arg[60])")
        let r = try runBudgetrain(["run", "exp.lua", "--"] + (1...60).map(String.init), in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "60\t60\t60\n")
    }

    @Test func thousandsOfScriptArgumentsArrive() throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", "print(select('#', ...), arg[5000])")
        let r = try runBudgetrain(["run", "exp.lua", "--"] + (1...5000).map(String.init), in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "5000\t5000\n")
    }

    @Test func moreArgumentsThanTheLuaStackHoldsAreAnError() throws {
        do {
            _ = try runScript("", in: try TemporaryDirectory(), arguments: Array(repeating: "x", count: 1_000_001))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("1000001 script arguments: 1000003 values do not fit on the Lua stack"), "\(error)")
        }
    }

    @Test func anSVGPreviewOfAlmostEqualValuesEnds() throws {
        let dir = try TemporaryDirectory()
        let r = try runBudgetrain(["schedule", "function(p) return p < 0.5 and 1e5 or 100000.00000000001 end", "--steps", "2", "--format", "svg"], in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("<svg") && r.stdout.contains("</svg>"))
    }
}
