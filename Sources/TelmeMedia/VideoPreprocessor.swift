import TelmeModels
import TelmeTensor

/// Frames -> the video student's input, as the authors' `VideoMAEImageProcessor` (transformers
/// 4.27.2, `MCG-NJU/videomae-base`) prepares them.
///
/// Per frame: resize so the shorter side is `imageSize` (the longer side becomes
/// `int(imageSize * long / short)`) with PIL's bilinear filter (`PILBilinear`, bit-exact), centre
/// crop `imageSize` x `imageSize` (offsets `(resized - crop) // 2`), then in float32
/// `(float32(v * (1/255)) - mean[c]) / std[c]`, channels first. Channel `c` is the frame's `c`-th
/// byte: with `.bgr` (the checkpoints' training order) channel 0 is blue although `mean[0]` is
/// ImageNet's red mean, exactly as in the authors' pipeline.
public struct VideoPreprocessor: Sendable {
    public var imageSize: Int
    public var numFrames: Int
    public var channelOrder: Settings.ChannelOrder
    /// Per-channel lookup: `table[c * 256 + v]` is the normalised value of byte `v` in channel `c`.
    private let table: [Float]

    public init(settings: Settings, imageSize: Int = 224) {
        self.imageSize = imageSize
        numFrames = settings.numFrames
        channelOrder = settings.channelOrder
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            // numpy: uint8 * (1/255) is float64, cast to float32; then float32 arithmetic with
            // the mean and std cast to float32.
            let mean = Float(c < settings.imageMean.count ? settings.imageMean[c] : 0)
            let std = Float(c < settings.imageStd.count ? settings.imageStd[c] : 1)
            for v in 0..<256 {
                let scaled = Float(Double(v) * (1.0 / 255.0))
                table[c * 256 + v] = (scaled - mean) / std
            }
        }
        self.table = table
    }

    /// `(height, width)` of the resized frame (`get_resize_output_image_size`, shortest edge).
    public func resizedSize(width: Int, height: Int) -> (height: Int, width: Int) {
        let short = min(width, height), long = max(width, height)
        let newLong = MediaMath.clampedInt(Double(imageSize * long) / Double(short))
        return width <= height ? (newLong, imageSize) : (imageSize, newLong)
    }

    /// The resized, centre-cropped frame: `imageSize` x `imageSize` x 3 bytes, in the frame's own
    /// channel order. Throws for frames that are empty or smaller than one pixel per side.
    public func resizedCrop(_ frame: VideoFrame) throws(MediaError) -> [UInt8] {
        guard frame.width > 0, frame.height > 0, frame.bgr.count == frame.width * frame.height * 3 else {
            throw MediaError(path: frame.source, kind: .invalidRequest,
                             detail: "frame \(frame.number) is \(frame.width)x\(frame.height) with \(frame.bgr.count) bytes")
        }
        let (outHeight, outWidth) = resizedSize(width: frame.width, height: frame.height)
        let top = (outHeight - imageSize) / 2, left = (outWidth - imageSize) / 2
        guard outWidth >= imageSize, outHeight >= imageSize, top >= 0, left >= 0 else {
            throw MediaError(path: frame.source, kind: .invalidRequest,
                             detail: "frame \(frame.number) (\(frame.width)x\(frame.height)) cannot be resized to \(imageSize)")
        }
        return PILBilinear.resize(frame.bgr, width: frame.width, height: frame.height, channels: 3,
                                  outWidth: outWidth, outHeight: outHeight,
                                  crop: (left, top, imageSize, imageSize))
    }

    /// `[frames.count, 3, imageSize, imageSize]` float32, normalised, channels first.
    public func callAsFunction(_ frames: [VideoFrame]) throws(MediaError) -> Tensor {
        let plane = imageSize * imageSize
        var data = [Float](repeating: 0, count: frames.count * 3 * plane)
        for (f, frame) in frames.enumerated() {
            let pixels = try resizedCrop(frame)
            // BGR bytes: source byte c goes to channel c (bgr) or 2 - c (rgb).
            for c in 0..<3 {
                let sourceChannel = channelOrder == .bgr ? c : 2 - c
                let base = (f * 3 + c) * plane
                let lookup = c * 256
                for p in 0..<plane {
                    data[base + p] = table[lookup + Int(pixels[p * 3 + sourceChannel])]
                }
            }
        }
        return Tensor(shape: [frames.count, 3, imageSize, imageSize], data: data)
    }

    /// The all-zero input the authors give for clips over the duration limit.
    public func zeros() -> Tensor {
        Tensor(zeros: [numFrames, 3, imageSize, imageSize])
    }
}
