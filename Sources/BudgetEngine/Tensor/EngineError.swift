/// Errors the engine throws for bad input: a model that does not fit its data, a corrupt data
/// file, an invalid argument. Each message names the thing at fault so the user can act on it.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    /// An input whose shape does not fit a layer. `path` locates the layer in the model, e.g.
    /// `Sequential[3] Linear(100 -> 10)`.
    case shapeMismatch(path: String, expected: String, got: [Int])
    /// A data file that is missing, truncated or not in the expected format.
    case dataFile(path: String, message: String)
    /// An argument outside its domain (negative size, probability above one, ...).
    case invalidArgument(String)
    /// A run that cannot go on (a schedule returned NaN, a loss diverged, ...).
    case training(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(path, expected, got):
            return "\(path): expected input \(expected), got \(got.shapeString)"
        case let .dataFile(path, message):
            return "\(path): \(message)"
        case let .invalidArgument(message):
            return message
        case let .training(message):
            return message
        }
    }

    /// The same error with `prefix` prepended to the layer path (containers add their own
    /// position as the error travels up through them).
    func prefixingPath(_ prefix: String) -> EngineError {
        if case let .shapeMismatch(path, expected, got) = self {
            return .shapeMismatch(path: prefix + " " + path, expected: expected, got: got)
        }
        return self
    }
}
