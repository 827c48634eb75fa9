/// The authors' rules for which decoded frames reach the video student (pure functions).
///
/// Frames are numbered from 1 in decoding order, as OpenCV's `CAP_PROP_POS_FRAMES` reads after
/// each `read()`. The authors' code keeps at most `count` frames; when fewer are kept it repeats
/// the last (`L < count`) or, in two cases where their code would stack a short tensor or crash,
/// this engine also repeats the last kept frame (see `padded`).
public enum FrameSelection {
    /// MELD (`get_video` in `MELD/utils.py`): `L` is the frame count the container declares
    /// (OpenCV's `CAP_PROP_FRAME_COUNT`). With `L >= count`, `step = L / count` and the frames
    /// numbered `step, 2 step, ..., count * step` are kept; with `L < count` the first `count`
    /// decoded frames are (all of them, then the last repeated). Returns the numbers, ascending.
    public static func clipNumbers(declaredCount: Int, count: Int) -> [Int] {
        guard count > 0 else { return [] }
        if declaredCount >= count {
            let step = declaredCount / count
            return (1...count).map { $0 * step }
        }
        return Array(1...count)
    }

    /// The IEMOCAP window (`get_video` in `IEMOCAP/utils.py`) in frame numbers.
    public struct Window: Equatable, Sendable {
        /// A frame numbered `n` is in the window when `lowerBound <= n <= upperBound`
        /// (`fps * max(start - margin, 0)` and `fps * (end + margin)`, compared as reals).
        public var lowerBound: Double
        public var upperBound: Double
        /// `fps * window // count`: every `step`-th frame inside the window is kept.
        public var step: Int

        /// Smallest frame number inside the window.
        public var firstNumber: Int { max(1, MediaMath.clampedInt(lowerBound.rounded(.up))) }
        /// Largest frame number inside the window (below `firstNumber` when it is empty).
        public var lastNumber: Int { MediaMath.clampedInt(upperBound.rounded(.down)) }
    }

    /// The window for an utterance from `start` to `end` seconds of a video at `fps`, or nil when
    /// its step is 0 (the authors' code then divides by zero and yields no video).
    public static func window(fps: Double, start: Double, end: Double, margin: Double, count: Int) -> Window? {
        let timeStart = max(start - margin, 0)
        let timeEnd = end + margin
        let length = fps * (timeEnd - timeStart)
        let step = (length / Double(count)).rounded(.down)
        guard count > 0, step.isFinite, step >= 1 else { return nil }
        return Window(lowerBound: fps * timeStart, upperBound: fps * timeEnd, step: MediaMath.clampedInt(step))
    }

    /// The frame numbers the authors keep from a window when the frames `1...decodedCount` were
    /// decoded: the `k * step`-th frames inside the window, at most `count`, ascending.
    public static func windowNumbers(_ window: Window, decodedCount: Int, count: Int) -> [Int] {
        var kept: [Int] = []
        let last = min(decodedCount, window.lastNumber)
        var n = window.firstNumber - 1 + window.step
        while n <= last && kept.count < count {
            kept.append(n)
            n += window.step
        }
        return kept
    }

    /// `items` followed by copies of its last element up to `count` (the first `count` when
    /// longer); empty stays empty.
    public static func padded<T>(_ items: [T], to count: Int) -> [T] {
        guard let last = items.last else { return [] }
        if items.count >= count { return Array(items.prefix(count)) }
        return items + Array(repeating: last, count: count - items.count)
    }
}
