/// A media file that could not be read, decoded or converted, named with what failed.
///
/// `description` is one line: `<path>: <what failed>[: <FFmpeg's message> (<C function>)]`, e.g.
/// `clips/dia1_utt3.mp4: cannot open: Invalid data found when processing input (avformat_open_input)`.
public struct MediaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, as a closed set callers can switch over (e.g. to tell "no audio" from "corrupt").
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The file does not exist, is empty, or no demuxer recognises it.
        case open
        /// The container holds no audio stream.
        case noAudioStream
        /// The container holds no video stream.
        case noVideoStream
        /// No decoder for the stream's codec, or the decoder refused its parameters.
        case decoder
        /// Reading or decoding failed before any usable data came out.
        case decode
        /// The stream decoded to nothing (no samples or no frames) in the requested range.
        case empty
        /// Sample-format conversion or resampling (libswresample) failed.
        case resample
        /// Pixel-format conversion (libswscale) failed.
        case convert
        /// A time range, rate or frame count the caller asked for is not usable.
        case invalidRequest
    }

    public var path: String
    public var kind: Kind
    /// What failed, in words, including FFmpeg's message and the C function where there is one.
    public var detail: String

    public init(path: String, kind: Kind, detail: String) {
        self.path = path
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
}
