import Testing
@testable import TelmeMedia

/// The frame rules against the authors' loops (run in Python over synthetic sequences by the
/// fixture script) and against a literal transcription of them.
@Suite("Media: frame selection rules")
struct MediaSelectionTests {
    /// The authors' MELD loop (`MELD/utils.py get_video`) over frames 1...decoded, generalised to
    /// `count` frames: the numbers it keeps.
    static func authorsClip(declared: Int, decoded: Int, count: Int) -> [Int] {
        var kept: [Int] = []
        if declared >= count {
            let step = declared / count
            for n in 1...max(decoded, 1) where n <= decoded && n % step == 0 { kept.append(n) }
        } else {
            kept = Array((0..<decoded).map { $0 + 1 })
        }
        return Array(kept.prefix(count))
    }

    @Test("MELD rule equals the authors' loop for every L < 34 and N < 40 (Python table)")
    func meldTable() throws {
        let table = try MediaFixtures.load().selection.meld
        #expect(table.count == 35 * 40)
        for row in table {
            let declared = try #require(row[0].number), decoded = try #require(row[1].number)
            let kept = try #require(row[2].list)
            let mine = FrameSelection.clipNumbers(declaredCount: declared, count: 8).filter { $0 <= decoded }
            #expect(mine == kept, "L=\(declared) N=\(decoded)")
        }
    }

    @Test("MELD rule equals the transcribed loop for all small L, N and frame counts")
    func meldExhaustive() {
        for count in 1...10 {
            for declared in -2...64 {
                let numbers = FrameSelection.clipNumbers(declaredCount: declared, count: count)
                #expect(numbers.count == count)
                #expect(numbers == numbers.sorted())
                for decoded in 0...80 {
                    let kept = numbers.filter { $0 <= decoded }
                    #expect(kept == Self.authorsClip(declared: declared, decoded: decoded, count: count),
                            "count=\(count) L=\(declared) N=\(decoded)")
                }
            }
        }
    }

    @Test("IEMOCAP window rule equals the authors' loop (Python table)")
    func windowTable() throws {
        let table = try MediaFixtures.load().selection.window
        #expect(!table.isEmpty)
        for row in table {
            let window = FrameSelection.window(fps: row.fps, start: row.start, end: row.end, margin: 1, count: 8)
            // A zero step divides by zero at the first frame inside the window; without such a
            // frame the authors' loop just keeps nothing. Either way: no frames.
            if row.error == "ZeroDivisionError" { #expect(window == nil) }
            guard let w = window else {
                #expect(row.kept.isEmpty, "fps \(row.fps) \(row.start)-\(row.end) N=\(row.decoded)")
                continue
            }
            #expect(FrameSelection.windowNumbers(w, decodedCount: row.decoded, count: 8) == row.kept,
                    "fps \(row.fps) \(row.start)-\(row.end) N=\(row.decoded)")
        }
    }

    @Test("window bounds: numbers compare with fps * time as reals")
    func windowBounds() throws {
        let w = try #require(FrameSelection.window(fps: 29.97, start: 3.27, end: 5.91, margin: 1, count: 8))
        #expect(w.firstNumber == 69)  // 29.97 * 2.27 = 68.03
        #expect(Double(w.firstNumber) >= 29.97 * 2.27 && Double(w.firstNumber - 1) < 29.97 * 2.27)
        #expect(Double(w.lastNumber) <= 29.97 * 6.91 && Double(w.lastNumber + 1) > 29.97 * 6.91)
        #expect(w.step == Int((29.97 * (6.91 - 2.27) / 8).rounded(.down)))
        // Start within the margin of 0 clamps to 0; frames are numbered from 1.
        let early = try #require(FrameSelection.window(fps: 25, start: 0.2, end: 0.4, margin: 1, count: 8))
        #expect(early.firstNumber == 1)
        // A step of 0 (fewer than 8 frames in the window) and absurd inputs give nil, not a trap.
        #expect(FrameSelection.window(fps: 1, start: 0, end: 0, margin: 1, count: 8) == nil)
        #expect(FrameSelection.window(fps: .nan, start: 0, end: 5, margin: 1, count: 8) == nil)
        #expect(FrameSelection.window(fps: 25, start: 0, end: .infinity, margin: 1, count: 8) == nil)
        let huge = try #require(FrameSelection.window(fps: 25, start: 1e300, end: 2e300, margin: 1, count: 8))
        #expect(FrameSelection.windowNumbers(huge, decodedCount: 100, count: 8).isEmpty)
    }

    @Test("padding repeats the last element; empty stays empty")
    func padding() {
        #expect(FrameSelection.padded([1, 2, 3], to: 5) == [1, 2, 3, 3, 3])
        #expect(FrameSelection.padded([1, 2, 3], to: 2) == [1, 2])
        #expect(FrameSelection.padded([Int](), to: 8) == [])
    }
}
