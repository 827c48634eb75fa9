import Foundation
import Testing
@testable import TelmeCorpus

/// The transcript fixtures (hand-written, byte-exact: see `.gitattributes` there).
func transcriptFixture(_ name: String) throws -> URL {
    try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        .appendingPathComponent("transcripts/\(name)")
}

/// A cue as the tests write it: times in seconds, nil when unplaced.
struct ExpectedCue: Equatable, CustomStringConvertible {
    var line: Int
    var start: Double?
    var end: Double?
    var speaker: String
    var text: String

    init(_ line: Int, _ start: Double?, _ end: Double?, _ speaker: String, _ text: String) {
        (self.line, self.start, self.end, self.speaker, self.text) = (line, start, end, speaker, text)
    }

    init(_ cue: TranscriptCue) {
        self.init(cue.line, cue.start?.seconds, cue.end?.seconds, cue.speaker, cue.text)
    }

    var description: String { "\(line) \(start.map { "\($0)" } ?? "-")..\(end.map { "\($0)" } ?? "-") [\(speaker)] \(text)" }
}

/// SRT, WebVTT and CSV transcripts: quirks, speakers, times and the lines named by warnings and errors.
@Suite struct TranscriptParserTests {
    func read(_ name: String) throws -> Transcript {
        try Transcript(contentsOf: transcriptFixture(name))
    }

    func parse(_ text: String, _ format: TranscriptFormat) throws -> Transcript {
        try Transcript.parse(Data(text.utf8), format: format, file: "t.\(format.rawValue)")
    }

    /// Warnings as `line: message` for compact expectations.
    func lines(_ warnings: [CorpusWarning]) -> [String] { warnings.map { "\($0.line): \($0.message)" } }

    // MARK: Fixtures

    /// A fixture and what it reads as: its format, its cues, its warnings as `line: message`.
    struct FixtureCase: Sendable, CustomTestStringConvertible {
        var name: String
        var format: TranscriptFormat
        var cues: [ExpectedCue]
        var warnings: [String]
        var testDescription: String { name }
    }

    static let fixtureCases = [
        // BOM, CRLF, SubRip coordinates, a missing blank line between cues, three blank lines,
        // tags, {\an8}, `NAME:` prefixes, dialogue dashes, `.` for `,`, no final line break.
        FixtureCase(name: "quirks.srt", format: .srt, cues: [
            ExpectedCue(2, 1, 2.5, "JOEY", "How you doin'?"),
            ExpectedCue(6, 2.6, 4, "", "It's a beautiful day in the neighbourhood."),
            ExpectedCue(10, 4, 5, "", "- Hi. - Hello!"),
            ExpectedCue(17, 10, 12, "Dr. Smith", "You're fine."),
            ExpectedCue(21, 13.5, 14, "Ross", "We were on a break!"),
            ExpectedCue(24, 15, 16, "", "At 5:30 we leave, 2 < 3."),
        ], warnings: []),
        // Broken SRT cues are kept or skipped, with their lines.
        FixtureCase(name: "broken.srt", format: .srt, cues: [
            ExpectedCue(4, 1, 2, "", "Fine."),
            ExpectedCue(8, nil, nil, "", "Broken time."),
            ExpectedCue(12, nil, nil, "", "Backwards."),
            ExpectedCue(19, 9, 10, "", "Bad byte \u{FFFD} here. More text after a blank line."),
            ExpectedCue(25, nil, nil, "", "Far away."),
        ], warnings: [
            "1: text before the first cue, ignored: \"Subtitles by someone\"",
            "8: cannot read the cue timing \"00:00:03,000 --> 00:00:0X,000\" (expected HH:MM:SS,mmm --> HH:MM:SS,mmm); "
                + "the cue is kept without times",
            "12: the cue ends (5.0 s) before it starts (6.0 s); the cue is kept without times",
            "16: cue without text, skipped",
            "20: invalid UTF-8 at byte offset 225, replaced with U+FFFD",
            "22: text after a blank line, appended to the cue at line 19",
            "25: time beyond 1e6 s (start 1080000.0 s, end 1080001.0 s); the cue is kept without times",
        ]),
        // WebVTT voices, blocks and entities.
        FixtureCase(name: "voices.vtt", format: .vtt, cues: [
            ExpectedCue(14, 1, 2.5, "Monica", "Welcome, & hello <friends>!"),
            ExpectedCue(17, 2.6, 4, "Joey", "How you doin'?"),
            ExpectedCue(21, 4.5, 5, "RACHEL", "Fine thanks \u{2014} \u{263A}"),
            ExpectedCue(24, 5, 6, "", "We were on a break"),
            ExpectedCue(26, 20, 21, "", "Later that day."),
            ExpectedCue(29, 21, 22, "Joey", "Could this be more?"),
        ], warnings: ["33: text after a blank line, appended to the cue at line 29"]),
        // CSV columns, times and rows.
        FixtureCase(name: "rows.csv", format: .csv, cues: [
            ExpectedCue(2, 0.5, 1.25, "Joey", "How you doin'?"),
            ExpectedCue(3, 1.5, 2.75, "Rachel", "Hi, there"),
            ExpectedCue(5, 3, 3, "Ross", "Zero."),
            ExpectedCue(6, nil, nil, "Ross", "No start."),
            ExpectedCue(7, nil, nil, "Phoebe", "Negative."),
            ExpectedCue(8, nil, nil, "Phoebe", "Backwards."),
            ExpectedCue(10, nil, nil, "Monica", "No start cell."),
            ExpectedCue(11, 12, 13.000001, "Chandler", "Rounded."),
        ], warnings: [
            "5: row of zero duration at 3.0 s",
            "6: start \"nan\" is not a time (seconds, or [HH:]MM:SS.mmm); the cue is kept without times",
            "7: negative time (start -1.0 s, end 2.0 s); the cue is kept without times",
            "8: the cue ends (4.0 s) before it starts (5.0 s); the cue is kept without times",
            "9: row without text, skipped",
            "10: no start time; the cue is kept without times",
        ]),
    ]

    /// Each fixture reads as its format, with its cues and its warnings, every warning naming the
    /// fixture's path.
    @Test(arguments: fixtureCases) func fixtureReadsAsExpected(_ fixture: FixtureCase) throws {
        let t = try read(fixture.name)
        let file = try transcriptFixture(fixture.name).path
        #expect(t.format == fixture.format)
        #expect(t.cues.map(ExpectedCue.init) == fixture.cues)
        #expect(lines(t.warnings) == fixture.warnings)
        #expect(t.warnings.allSatisfy { $0.file == file })
    }

    // MARK: SRT

    @Test func srtWithoutAnyTimingIsAnErrorAtItsFirstTextLine() throws {
        let file = try transcriptFixture("notsrt.srt").path
        #expect(throws: CorpusError(file: file, line: 3, message:
            "not a SubRip file: no cue timing line (HH:MM:SS,mmm --> HH:MM:SS,mmm) anywhere")) {
            try read("notsrt.srt")
        }
        let empty = try parse("\n\n", .srt)
        #expect(empty.cues.isEmpty)
        #expect(lines(empty.warnings) == ["1: empty transcript: no cues"])
    }

    @Test func srtCueNumbersAndLoneCarriageReturns() throws {
        // Lone CR line breaks; a text line of digits stays text unless a timing line follows it.
        let t = try parse("1\r00:00:01,000 --> 00:00:02,000\rThe answer is\r42\r\r2\r00:00:03,000 --> 00:00:04,000\rYes.\r", .srt)
        #expect(t.cues.map(ExpectedCue.init) == [
            ExpectedCue(2, 1, 2, "", "The answer is 42"),
            ExpectedCue(7, 3, 4, "", "Yes."),
        ])
        // Without the blank line, a digits-only line right before a timing line is the cue number.
        let tight = try parse("00:00:01,000 --> 00:00:02,000\nThe answer is\n42\n00:00:03,000 --> 00:00:04,000\nYes.", .srt)
        #expect(tight.cues.map(\.text) == ["The answer is", "Yes."])
    }

    @Test func srtTimestampsLenientButBounded() throws {
        let t = try parse("""
            00:00:01.5 --> 00:00:02,25
            Short fractions.

            00:02.500 --> 01:03.000
            Minutes and seconds.

            00:00:05,000 --> 00:00:05,000
            Zero.

            00:60:00,000 --> 01:00:00,000
            Sixty minutes.

            -00:00:01,000 --> 00:00:02,000
            Negative.

            00:00:09,000 --> 00:00:08,000
            Backwards.

            1234567890:00:00,000 --> 1234567891:00:00,000
            Ten digits of hours.
            """, .srt)
        #expect(t.cues.map(ExpectedCue.init) == [
            ExpectedCue(1, 1.5, 2.25, "", "Short fractions."),
            ExpectedCue(4, 2.5, 63, "", "Minutes and seconds."),
            ExpectedCue(7, 5, 5, "", "Zero."),
            ExpectedCue(10, nil, nil, "", "Sixty minutes."),
            ExpectedCue(13, nil, nil, "", "Negative."),
            ExpectedCue(16, nil, nil, "", "Backwards."),
            ExpectedCue(19, nil, nil, "", "Ten digits of hours."),
        ])
        #expect(t.warnings.map(\.line) == [7, 10, 13, 16, 19])
        #expect(t.warnings[0].message == "cue of zero duration at 5.0 s")
        #expect(t.warnings[1].message.hasPrefix("cannot read the cue timing \"00:60:00,000 --> 01:00:00,000\""))
    }

    @Test func outOfOrderCuesStayInFileOrderWithAWarning() throws {
        let t = try parse("1\n00:00:05,000 --> 00:00:06,000\nLater.\n\n2\n00:00:01,000 --> 00:00:02,000\nEarlier.\n", .srt)
        #expect(t.cues.map(\.text) == ["Later.", "Earlier."])
        #expect(lines(t.warnings) == ["6: cue starts at 1.0 s, before the previous cue's start 5.0 s; kept in file order"])
    }

    // MARK: WhisperX JSON

    @Test func whisperXSegmentsSpeakersLinesAndGold() throws {
        let json = """
            {"segments": [
              {"start": 0.5, "end": 2.0, "text": " Hello there.", "speaker": "SPEAKER_00", "words": [{"word": "Hello", "start": 0.5}]},
              {"start": 2.5, "end": 3.0, "text": "  "},
              {"start": 3.5, "end": 4.0, "text": " No speaker.", "emotion": "joy"},
              {"start": "x", "end": 5.0, "text": " Untimed {brace} \\"q\\" ["}
            ], "word_segments": [{"word": "[", "start": 9}], "language": "en"}
            """
        let t = try parse(json, .json)
        #expect(t.cues.map(\.text) == ["Hello there.", "No speaker.", "Untimed {brace} \"q\" ["])
        #expect(t.cues.map(\.speaker) == ["SPEAKER_00", "", ""])
        #expect(t.cues.map(\.line) == [2, 4, 5], "the line where each segment's object starts")
        #expect(t.cues.map(\.gold) == [nil, "joy", nil])
        #expect(t.cues[0].start == TranscriptTime(seconds: 0.5) && t.cues[0].end == TranscriptTime(seconds: 2))
        #expect(t.cues[2].start == nil && t.cues[2].end == nil)
        #expect(lines(t.warnings) == ["3: segment 1 has no text, skipped",
                                      "5: segment 3: no numeric start and end; the cue is kept without times"])
        // WhisperX's own file is one line: every segment is on line 1.
        let oneLine = try parse(#"{"segments": [{"start": 0, "end": 1, "text": " a"}, {"start": 1, "end": 2, "text": " b"}]}"#, .json)
        #expect(oneLine.cues.map(\.line) == [1, 1])
        for bad in ["[1, 2]", "not json", #"{"segments": 3}"#] {
            #expect(throws: CorpusError.self, "\(bad)") { try parse(bad, .json) }
        }
    }

    // MARK: Speakers and text

    @Test(arguments: [
        ("JOEY: Hi.", "JOEY", "Hi."),
        ("Joey: Hi.", "Joey", "Hi."),
        ("Dr. Smith: Hi.", "Dr. Smith", "Hi."),
        ("Man #2: Hi.", "Man #2", "Hi."),
        ("JOEY (V.O.): Hi.", "JOEY", "Hi."),           // a voice-over is the same speaker
        ("Monica (O.S.): Hi.", "Monica", "Hi."),
        ("[SPEAKER_00]: Hi.", "SPEAKER_00", "Hi."),    // WhisperX's prefix
        ("[Rachel]: Hi.", "Rachel", "Hi."),
        ("[laughs] Hi.", "", "[laughs] Hi."),
        (">> JOEY: Hi.", "JOEY", "Hi."),              // closed captions
        (">>JOEY: Hi.", "JOEY", "Hi."),
        (">> Hi.", "", "Hi."),
        ("joey: hi.", "joey", "hi."),                  // one lowercase word: a name
        ("he said: go.", "", "he said: go."),
        ("Joey & Chandler: Hi.", "Joey & Chandler", "Hi."),
        ("Zoë: Ça va?", "Zoë", "Ça va?"),
        ("He said: go.", "", "He said: go."),          // a lowercase word: a sentence, not a name
        ("At 5:30 we go.", "", "At 5:30 we go."),     // no space after the colon
        ("JOEY:Hi.", "", "JOEY:Hi."),
        ("JOEY: ", "", "JOEY:"),                       // nothing said
        ("One Two Three Four Five: x", "", "One Two Three Four Five: x"), // more than 4 words
        ("Well, Joey: hi", "", "Well, Joey: hi"),     // a comma is not part of a name
        ("- JOEY: Hi.", "JOEY", "Hi."),               // one turn: the dash goes
        ("-Hi.", "", "Hi."),
        ("-5 degrees.", "", "-5 degrees."),           // a minus sign, not a dash
        ("– Hi.", "", "Hi."),
    ])
    func speakerRule(line: String, speaker: String, text: String) {
        let result = CueText.utterance(lines: [line])
        #expect(result.speaker == speaker)
        #expect(result.text == text)
    }

    @Test func severalTurnsHaveNoSpeaker() {
        #expect(CueText.utterance(lines: ["- JOEY: Hi.", "- ROSS: Hey."]) == ("", "- JOEY: Hi. - ROSS: Hey.") as (String, String))
        #expect(CueText.utterance(lines: ["JOEY: Hi.", "- Hey."]) == ("", "JOEY: Hi. - Hey.") as (String, String))
        #expect(CueText.utterance(lines: ["Hi."], voices: ["A", "A"]) == ("A", "Hi.") as (String, String))
        #expect(CueText.utterance(lines: ["Hi."], voices: ["A", "B"]) == ("", "Hi.") as (String, String))
        #expect(CueText.utterance(lines: ["  ", "\t"]) == ("", "") as (String, String))
    }

    @Test func srtMarkup() {
        #expect(CueText.stripSRTMarkup("<font color=\"#ff0\">Hi</font> <I>there</I>") == "Hi there")
        #expect(CueText.stripSRTMarkup("{\\an8}{\\pos(10,20)}Top") == "Top")
        #expect(CueText.stripSRTMarkup("a < b and c <3 d, <unclosed") == "a < b and c <3 d, <unclosed")
        #expect(CueText.stripSRTMarkup("x <b and &amp;") == "x <b and &amp;") // unclosed tag kept; no entities in SRT
    }

    // MARK: WebVTT

    @Test func vttWithoutHeaderIsAnErrorAtLine1() throws {
        let file = try transcriptFixture("noheader.vtt").path
        #expect(throws: CorpusError(file: file, line: 1, message:
            "not a WebVTT file: the first line must be \"WEBVTT\", found \"1\"")) {
            try read("noheader.vtt")
        }
        #expect(throws: CorpusError.self) { try parse("WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n", .vtt) }
    }

    @Test func vttHeaderQuirks() throws {
        // BOM + CRLF, no blank line after the header, an identifier, text before any cue, a voice
        // with classes and a reference in its name, an unclosed tag, bad timing.
        let text = "\u{FEFF}WEBVTT\r\nid-1\r\n00:00:01.000 --> 00:00:02.000 line:0\r\n<v.a.b Mr &amp; Mrs>Hi <i\r\n\r\n"
            + "orphan text?\r\n\r\n00:00:03.000 --> 00:00:xx.000\r\nBad.\r\n\r\nNOTE\r\n\r\nSTYLES are not STYLE\r\n"
        let t = try parse(text, .vtt)
        #expect(t.cues.map(ExpectedCue.init) == [
            ExpectedCue(3, 1, 2, "Mr & Mrs", "Hi orphan text?"),
            ExpectedCue(8, nil, nil, "", "Bad. STYLES are not STYLE"),
        ])
        #expect(t.warnings.map(\.line) == [3, 6, 8, 13])
        #expect(t.warnings[0].message == "no blank line between the WEBVTT header and the first cue")
        let before = try parse("WEBVTT\n\nstray\n\n00:01.000 --> 00:02.000\n<v>x\n", .vtt)
        #expect(lines(before.warnings) == ["3: text outside any cue, ignored: \"stray\""])
        #expect(before.cues.map(ExpectedCue.init) == [ExpectedCue(5, 1, 2, "", "x")])
    }

    @Test func vttEntities() {
        var voices: [String] = []
        #expect(CueText.stripWebVTTMarkup("&lt;b&gt; &amp;amp; &#65;&#x42; &#0; &#xD800; &bogus; & alone", voices: &voices)
            == "<b> &amp; AB &#0; &#xD800; &bogus; & alone")
        #expect(voices.isEmpty)
        #expect(CueText.stripWebVTTMarkup("<v  Spaced   Name  >a</v><vx Y>b<v>c", voices: &voices) == "abc")
        #expect(voices == ["Spaced Name"])
    }

    // MARK: CSV

    @Test func csvRowsHaveNoDialogueAndRoundToMicroseconds() throws {
        let t = try read("rows.csv")
        #expect(t.cues.allSatisfy { $0.dialogue == nil })
        #expect(t.cues.last?.end?.microseconds == 13_000_001) // 0.5 µs rounds up
    }

    @Test func csvHeaderErrorsNameLine1() throws {
        let ambiguous = try transcriptFixture("ambiguous.csv").path
        #expect(throws: CorpusError(file: ambiguous, line: 1, message: "columns \"start\" and \"begin\" both give the start")) {
            try read("ambiguous.csv")
        }
        let short = try transcriptFixture("short.csv").path
        #expect(throws: CorpusError(file: short, line: 3, message: "expected 3 fields as in the header, found 2")) {
            try read("short.csv")
        }
        #expect(throws: CorpusError(file: "t.csv", line: 1, message:
            "no text column (named one of: caption, sentence, subtitle, text, transcript, transcription, utterance; "
            + "case, spaces and _ do not matter); columns: Start, END, Speaker")) {
            try parse("Start,END,Speaker\n1,2,A\n", .csv)
        }
        #expect(throws: CorpusError(file: "t.csv", line: 2, message:
            "quoted field is never closed (opening quote on this line)")) {
            try parse("start,end,text\n1,2,\"open\n", .csv)
        }
    }

    @Test func csvSynonymsAndInvalidUTF8() throws {
        var data = Data("\u{FEFF}Begin,Stop,Character,Transcript\r\n1,2,A,caf".utf8)
        data.append(contentsOf: [0xE9, 0x0D, 0x0A])
        let t = try Transcript.parse(data, format: .csv, file: "t.csv")
        #expect(t.cues.map(ExpectedCue.init) == [ExpectedCue(2, 1, 2, "A", "caf\u{FFFD}")])
        #expect(lines(t.warnings) == ["2: invalid UTF-8 at byte offset 45, replaced with U+FFFD"])
        // A MELD CSV reads as a transcript (Sr No., Emotion... ignored; StartTime in HH:MM:SS,mmm).
        let meld = try parse("""
            Sr No.,Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID,StartTime,EndTime
            1,"Oh my God, he’s lost it.",Phoebe,sadness,0,0,"00:20:57,256","00:21:00,049"
            """, .csv)
        #expect(meld.cues.map(ExpectedCue.init) == [ExpectedCue(2, 1257.256, 1260.049, "Phoebe", "Oh my God, he’s lost it.")])
        #expect(meld.cues.first?.dialogue == "0")
    }

    // MARK: Times

    @Test func timeText() {
        #expect(TranscriptTime(microseconds: 12_345_000).description == "12.345")
        #expect(TranscriptTime(microseconds: 3_000_000).description == "3.0")
        #expect(TranscriptTime(microseconds: 1).description == "0.000001")
        #expect(TranscriptTime(microseconds: -1_500_000).description == "-1.5")
        #expect(Corpus.seconds(TranscriptTime(microseconds: 1_257_256_000).description) == 1257.256)
        #expect(Timestamp.parseSeconds("12.") == TranscriptTime(microseconds: 12_000_000))
        #expect(Timestamp.parseSeconds(".5") == TranscriptTime(microseconds: 500_000))
        for bad in ["", ".", "1e3", "inf", "nan", "1.2.3", "0x10", "1 2", "1234567890123"] {
            #expect(Timestamp.parseSeconds(Substring(bad)) == nil, "\(bad)")
        }
        for bad in ["1:2:3:4", "00:00:60,000", "00:61.000", "aa:00:01.000", "00:00:01,", "00:00:01,0000000000", ":00:01.000"] {
            #expect(Timestamp.parse(Substring(bad)) == nil, "\(bad)")
        }
    }

    // MARK: Hostile input

    /// Inputs that once crashed the parsers (found by `hostileInput`).
    @Test func hostileRegressions() throws {
        // An arrow in the WEBVTT line itself is header text.
        let header = try parse("WEBVTT -->\n00:01.000 --> 00:02.000\nx\n", .vtt)
        #expect(header.cues.map(ExpectedCue.init) == [ExpectedCue(2, 1, 2, "", "x")])
        // `>` + a combining mark is one Character: the arrow is found and split by bytes.
        let combining = try parse("00:00:01,000 -->\u{301} 00:00:02,000\nx\n", .srt)
        #expect(combining.cues.map(ExpectedCue.init) == [ExpectedCue(1, nil, nil, "", "x")])
        let glued = try parse("00:00:01,000 -->00:00:02,000\u{301}\nx\n", .srt)
        #expect(glued.cues.map(ExpectedCue.init) == [ExpectedCue(1, nil, nil, "", "x")])
    }

    /// Random mixtures of the formats' tokens and raw bytes never crash, and what comes out holds
    /// the documented invariants.
    @Test(arguments: TranscriptFormat.allCases)
    func hostileInput(format: TranscriptFormat) {
        let tokens: [[UInt8]] = [
            "WEBVTT", "WEBVTT\n", "-->", " --> ", "00:00:01,000", "00:01.500", "99:59:59.999", "1", "\n", "\r\n", "\r",
            "\n\n", "<v A>", "</v>", "<", ">", "&", "&#x", ";", "&amp;", "NOTE", "JOEY: ", "- ", ",", "\"", "\"\"",
            "start,end,text\n", "dialogue,start,end,speaker,text\n", "{\\", "}", " ", "\t", "-", ":", ".", "é",
        ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xEF, 0xBB, 0xBF], [0x00], [0xED, 0xA0, 0x80]]
        let cells: [[UInt8]] = [
            "1", "2.5", "-1", ".", "nan", "1e3", "00:00:01,000", "00:01.5", "99:99:99", "JOEY: ", "hi", " ", "\"a,\nb\"",
            "9999999999", "0.0000005",
        ].map { Array($0.utf8) } + [[0xFF], [0xE2, 0x82]]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(format.rawValue.utf8.first ?? 1)
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var parsed = 0
        for _ in 0..<1500 {
            var bytes: [UInt8] = []
            if format == .vtt, next(2) == 0 { bytes += Array("WEBVTT\n\n".utf8) }
            if format == .json, next(3) != 0 {
                // WhisperX-shaped segments with odd values, so the generator gets past the JSON reader.
                let numbers = ["0.5", "1", "-1", "1e3", "9999999999", "null", "\"x\"", "true", "2.25"]
                let texts = ["\" Hi.\"", "\"\"", "\"JOEY: a\"", "1", "\" [joy]\"", "\"\\u00e9 \\n b\""]
                bytes += Array("{\"segments\": [\n".utf8)
                for k in 0..<next(6) {
                    let segment = (k > 0 ? ",\n" : "") + "{\"start\": \(numbers[next(numbers.count)]), "
                        + "\"end\": \(numbers[next(numbers.count)]), \"text\": \(texts[next(texts.count)])"
                        + (next(2) == 0 ? ", \"speaker\": \"SPEAKER_0\(next(3))\"}" : "}")
                    bytes += Array(segment.utf8)
                }
                bytes += Array("], \"language\": \"en\"}".utf8)
            }
            if format == .csv, next(3) != 0 {
                // Rows of the right width, so the generator gets past the CSV reader's errors.
                bytes += Array("start,end,speaker,text\n".utf8)
                for _ in 0..<next(8) {
                    for field in 0..<4 {
                        for _ in 0..<next(4) { bytes += cells[next(cells.count)] }
                        bytes += Array((field == 3 ? "\n" : ",").utf8)
                    }
                }
            }
            let structured = !bytes.isEmpty
            for _ in 0..<(structured && next(2) == 0 ? 0 : next(60)) { bytes += tokens[next(tokens.count)] }
            let lineCount = bytes.reduce(1) { $0 + ($1 == 0x0A || $1 == 0x0D ? 1 : 0) }
            guard let t = try? Transcript.parse(Data(bytes), format: format, file: "h") else { continue }
            parsed += 1
            for cue in t.cues {
                #expect(!cue.text.isEmpty)
                #expect((1...lineCount).contains(cue.line))
                #expect((cue.start == nil) == (cue.end == nil))
                if let start = cue.start, let end = cue.end {
                    #expect(start.microseconds >= 0 && start <= end && end <= TranscriptTime.limit)
                }
            }
            for warning in t.warnings { #expect((1...lineCount).contains(warning.line)) }
            _ = EpisodeCorpus.utterances(of: t, episode: "h", video: "h.mp4", dialogueGap: 1)
        }
        #expect(parsed > 100) // the generator reaches the parsers' insides, not only their errors
    }
}
