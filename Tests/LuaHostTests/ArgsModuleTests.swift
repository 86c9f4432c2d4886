import Testing
@testable import LuaHost

/// `budgetrain.args`: a script's options after `--`, as the examples read them.
@Suite struct ArgsModuleTests {
    private let script = """
        local opts = require("budgetrain.args").parse(arg, { epochs = 2, quick = false, ["no-trunks"] = false })
        epochs, quick, no_trunks = opts.epochs, opts.quick, opts.no_trunks
        """

    @Test func defaultsFlagsAndNumbers() throws {
        let dir = try TemporaryDirectory()
        let plain = try runScript(script, in: dir)
        #expect(plain.global("epochs").doubleValue == 2)
        #expect(plain.global("quick").boolValue == false)
        #expect(plain.global("no_trunks").boolValue == false)
        let given = try runScript(script, in: dir, arguments: ["--quick", "--epochs", "0.5", "--no-trunks"])
        #expect(given.global("epochs").doubleValue == 0.5)
        #expect(given.global("quick").boolValue == true)
        #expect(given.global("no_trunks").boolValue == true)
    }

    @Test(arguments: [["--fast"], ["--epochs"], ["--epochs", "many"], ["quick"]])
    func unknownOrIncompleteArgumentsNameTheWordAndTheOptions(_ words: [String]) throws {
        let dir = try TemporaryDirectory()
        let message = try #require(throws: (any Error).self) { try runScript(script, in: dir, arguments: words) }
        let text = userMessage(for: message)
        #expect(text.contains("unknown argument '\(words[0])'"), "\(text)")
        #expect(text.contains("expected --epochs N, --no-trunks, --quick"), "\(text)")
    }
}
