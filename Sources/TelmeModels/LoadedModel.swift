import TelmeTensor

/// The networks of one model, built from its weights: the text teacher always, each student
/// the description has, and the fusion when it has a fusion and both students (the same rule
/// as `Architecture.tensorSpecs`). Every command that runs a model builds it here.
public struct LoadedModel: @unchecked Sendable {
    public let description: ModelDescription
    public let teacher: TextTeacher
    public let audio: AudioStudent?
    public let video: VideoStudent?
    public let fusion: Fusion?

    /// A network whose weights were refused: which one, and why.
    public struct BuildError: Error, CustomStringConvertible {
        /// "the text teacher", "the audio student", "the video student" or "the fusion".
        public var component: String
        public var reason: any Error

        public var description: String { "cannot build \(component): \(reason)" }
    }

    /// Builds every network of `description` on `weights` (which must outlive the model).
    public init(_ description: ModelDescription, weights: any WeightSource) throws(BuildError) {
        func building<T>(_ component: String, _ make: () throws -> T) throws(BuildError) -> T {
            do { return try make() } catch { throw BuildError(component: component, reason: error) }
        }
        self.description = description
        teacher = try building("the text teacher") { try TextTeacher(model: description, weights: weights) }
        audio = description.audio == nil ? nil
            : try building("the audio student") { try AudioStudent(model: description, weights: weights) }
        video = description.video == nil ? nil
            : try building("the video student") { try VideoStudent(model: description, weights: weights) }
        fusion = description.fusion == nil || audio == nil || video == nil ? nil
            : try building("the fusion") { try Fusion(model: description, weights: weights) }
    }
}

/// The backend of the students' classifiers and of ASF, whatever the one in force: products of
/// a few rows (one per utterance), where oneDNN's packing gains nothing and builds a primitive
/// per new row count. They have always run there, so records keep their bytes. (The teacher's
/// `W` and classifier follow the backend in force, as they always have.)
let headsBackend = Backend.openblas
