import Foundation
import Testing
@testable import TelmeCorpus
import TelmeTokenizer

/// MELD and IEMOCAP layouts, dialogue grouping, and layout errors.
@Suite struct CorpusTests {
    func corpus(_ text: String, layout: CorpusLayout? = nil) throws -> Corpus {
        let (rows, warnings) = try CSVReader.parse(Data(text.utf8), file: "c.csv")
        return try Corpus(rows: rows, warnings: warnings, file: "c.csv", layout: layout)
    }

    let meld = """
        Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime,Video_Path
        1,"Oh my God, he\u{92}s lost it.",Phoebe,sadness,negative,0,0,4,7,"00:20:57,256","00:21:00,049",./a/dia0_utt0.mp4
        2,What?,Monica,surprise,negative,0,2,4,7,"00:21:01,927","00:21:03,261",./a/dia0_utt2.mp4
        3,Hi.,Ross,,neutral,1,0,4,7,"01:00:00,000","01:00:01,500",./a/dia1_utt0.mp4
        4,Back.,Ross,joy,neutral,0,3,4,7,,,./a/dia0_utt3.mp4

        """

    @Test func meldLayout() throws {
        let c = try corpus(meld)
        #expect(c.layout == .meld)
        #expect(c.utterances.map(\.dialogue) == ["0", "0", "1", "0"])
        // Index is the position in the dialogue run, not Utterance_ID (which skips 1 here).
        #expect(c.utterances.map(\.index) == [0, 1, 0, 0])
        #expect(c.utterances.map(\.utteranceID) == ["0", "2", "0", "3"])
        #expect(c.utterances.map(\.line) == [2, 3, 4, 5])
        #expect(c.utterances[0].text == "Oh my God, he\u{92}s lost it.")
        #expect(c.utterances.map(\.gold) == ["sadness", "surprise", nil, "joy"])
        #expect(c.utterances[0].startSeconds == 20 * 60 + 57.256)
        #expect(c.utterances[2].endSeconds == 3601.5)
        #expect(c.utterances[3].startSeconds == nil)
        #expect(c.utterances[1].videoPath == "./a/dia0_utt2.mp4")
        #expect(c.utterances[0].wavPath == nil)
        // Dialogue 0 comes back after dialogue 1: a new dialogue, with a warning.
        #expect(c.warnings.count == 1)
        #expect(c.warnings.first?.line == 5)
    }

    @Test func iemocapLayout() throws {
        let c = try corpus("""
            Utterance,Speaker,Dialogue_ID,Start_Time,End_Time,Wav_Path,Video_Path,Emotion
            Next.,Ses01M_impro01_F000,Ses01M_impro01,6.77,8.46,./w/F000.wav,./v/Ses01M_impro01.avi,ang
            "Yes, me.",Ses01M_impro01_M000,Ses01M_impro01,8.2208,11.28,./w/M000.wav,./v/Ses01M_impro01.avi,neu
            """)
        #expect(c.layout == .iemocap)
        #expect(c.utterances.map(\.index) == [0, 1])
        #expect(c.utterances[1].text == "Yes, me.")
        #expect(c.utterances[1].startSeconds == 8.2208)
        #expect(c.utterances[0].wavPath == "./w/F000.wav")
        #expect(c.utterances[0].utteranceID == nil)
        #expect(c.utterances[1].gold == "neu")
    }

    @Test func minimalMeldWithoutOptionalColumns() throws {
        let c = try corpus("Dialogue_ID,Utterance_ID,Speaker,Utterance,Extra\nd1,0,A,hello,x\n", layout: .meld)
        #expect(c.utterances == [Utterance(dialogue: "d1", index: 0, utteranceID: "0", speaker: "A", text: "hello", line: 2)])
    }

    @Test func wrongLayoutNamesTheMissingColumn() {
        #expect(throws: CorpusError(file: "c.csv", line: 1, message:
            "no column \"Start_Time\" for the iemocap layout; columns: Dialogue_ID, Utterance_ID, Speaker, Utterance")) {
            try corpus("Dialogue_ID,Utterance_ID,Speaker,Utterance\nd1,0,A,hello\n", layout: .iemocap)
        }
        #expect(throws: CorpusError.self) { try corpus("Utterance,Speaker\nx,y\n") } // no layout detectable
        #expect(throws: CorpusError(file: "c.csv", line: nil, message: "empty file: no header row")) { try corpus("") }
    }

    @Test func shortRowNamesItsLine() {
        #expect(throws: CorpusError(file: "c.csv", line: 3, message: "expected 4 fields as in the header, found 3")) {
            try corpus("Dialogue_ID,Utterance_ID,Speaker,Utterance\nd1,0,A,hello\nd1,1,B\n")
        }
    }

    @Test func turnsFeedTheTeacherInput() throws {
        let c = try corpus(meld)
        #expect(TeacherInputBuilder.prompts(c.turns, numbering: .official)[1]
            == "<s1> Oh my God, he\u{92}s lost it. <s2> What? </s> Now <s2> feels")
        #expect(TeacherInputBuilder.speakerNumbers(c.turns, numbering: .official) == [0, 1, 2, 0])
    }
}
