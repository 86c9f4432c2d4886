import BudgetEngine
import Foundation

/// The `log = "path.jsonl"` of `train{}`: one JSON object per optimizer step,
/// `{"step":0,"progress":0,"lr":0.1,"loss":2.302}`, and one per evaluation with
/// `"event":"evaluation"`. Numbers are written in full precision (the shortest text that reads
/// back as the same double), non-finite ones as `null`.
final class StepLog: TrainingObserver {
    private let file: UnsafeMutablePointer<FILE>

    init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        guard let file = fopen(path, "w") else {
            throw BindingError.badField("log", to: "train", "cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        self.file = file
    }

    deinit { fclose(file) }

    func didStep(_ r: StepRecord) {
        write("{\"step\":\(r.step),\"progress\":\(json(r.progress)),\"epoch\":\(r.epoch),\"lr\":\(json(r.learningRate)),\"loss\":\(json(r.loss))}\n")
    }

    func didEvaluate(_ r: EvaluationRecord) {
        var line = "{\"event\":\"evaluation\",\"step\":\(r.step),\"progress\":\(json(r.progress))"
        if let v = r.trainLoss { line += ",\"train_loss\":\(json(v))" }
        if let v = r.testLoss { line += ",\"test_loss\":\(json(v))" }
        if let v = r.testAccuracy { line += ",\"test_accuracy\":\(json(v))" }
        if let v = r.gradNorm { line += ",\"grad_norm\":\(json(v))" }
        write(line + "}\n")
    }

    private func write(_ line: String) { fputs(line, file) }

    private func json(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
}
