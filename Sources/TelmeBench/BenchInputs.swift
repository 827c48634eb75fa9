import Foundation
import TelmeFormat
import TelmeModels
import TelmeTensor

/// The encoder cases of `telme bench` (the sizes).
public enum BenchCase: String, CaseIterable, Sendable {
    case text128, text512, audio, video
}

/// The synthetic inputs, made once, with the same formulas as Tools/bench/compare.py:
/// token i = 4 + (7919 i) mod (vocab - 4), mask all 1; sample i = 0.5 sin(0.0627 i) +
/// 0.25 sin(0.00913 i); video value j (flat index) = ((37 j) mod 256) / 128 - 1.
struct BenchInputs {
    let model: ModelDescription
    let audioSamples: Int
    let audio: Tensor
    let video: Tensor?

    init(model: ModelDescription, audioSamples: Int) {
        self.model = model
        self.audioSamples = audioSamples
        audio = Tensor(shape: [1, audioSamples], data: (0..<audioSamples).map { i in
            let x = Double(i)
            return Float(0.5 * sin(0.0627 * x) + 0.25 * sin(0.00913 * x))
        })
        video = model.video.map { config in
            let c = config.encoder
            let shape = [1, c.numFrames, c.numChannels, c.imageSize, c.imageSize]
            return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { Float(($0 * 37) % 256) / 128 - 1 })
        }
    }

    /// Tokens of a text case, within the model's positions (RoBERTa's start after the pad id).
    func tokens(_ c: BenchCase) -> Int {
        let wanted = c == .text512 ? 512 : 128
        let e = model.text.encoder
        return max(1, min(wanted, e.maxPositionEmbeddings - e.padTokenId - 1))
    }

    /// One sequence of `count` tokens, no padding.
    func text(_ count: Int) -> (ids: [[Int]], mask: [[Int]]) {
        let vocab = model.text.encoder.vocabSize
        return ([(0..<count).map { 4 + ($0 * 7919) % max(vocab - 4, 1) }], [[Int](repeating: 1, count: count)])
    }

    func shape(for c: BenchCase) -> [Int] {
        switch c {
        case .text128, .text512: [1, tokens(c)]
        case .audio: audio.shape
        case .video: video?.shape ?? []
        }
    }

    func work(for c: BenchCase) -> [MatmulShape] {
        switch c {
        case .text128, .text512: EncoderWork.roberta(model.text.encoder, tokens: tokens(c))
        case .audio: model.audio.map { EncoderWork.data2vecAudio($0.encoder, samples: audioSamples) } ?? []
        case .video: model.video.map { EncoderWork.timesformer($0.encoder) } ?? []
        }
    }

    func utteranceDescription(_ heads: BenchHeads) -> String {
        var parts = ["text \(tokens(.text128)) tokens"]
        if heads.audio != nil { parts.append("audio \(audioSamples) samples") }
        if heads.video != nil, let video { parts.append("video " + video.shape.dropFirst().map(String.init).joined(separator: "x")) }
        if heads.fusion != nil { parts.append("fusion") }
        return parts.joined(separator: ", ")
    }
}

/// The model's heads, built from an open file.
struct BenchHeads {
    let teacher: TextTeacher
    let audio: AudioStudent?
    let video: VideoStudent?
    let fusion: Fusion?
    let model: ModelDescription

    init(file: TelmeFile) throws {
        model = file.model
        let networks = try LoadedModel(model, weights: file)
        (teacher, audio, video, fusion) = (networks.teacher, networks.audio, networks.video, networks.fusion)
    }

    func supports(_ c: BenchCase) -> Bool {
        switch c {
        case .text128, .text512: true
        case .audio: audio != nil
        case .video: video != nil
        }
    }

    /// One encoder alone on its case's input.
    func run(_ c: BenchCase, _ inputs: BenchInputs) throws {
        switch c {
        case .text128, .text512:
            let (ids, mask) = inputs.text(inputs.tokens(c))
            _ = teacher(inputIDs: ids, attentionMask: mask)
        case .audio:
            _ = try audio.map { try $0(inputs.audio) }
        case .video:
            if let video, let clip = inputs.video { _ = video(clip) }
        }
    }

    /// One whole synthetic utterance: teacher on 128 tokens, both students, the fusion.
    func utterance(_ inputs: BenchInputs) throws {
        let (ids, mask) = inputs.text(inputs.tokens(.text128))
        let text = teacher(inputIDs: ids, attentionMask: mask)
        let a = try audio.map { try $0(inputs.audio) }
        let v = video.flatMap { student in inputs.video.map { student($0) } }
        if let fusion, let a, let v {
            _ = fusion(text: text.hidden, audio: a.hidden, video: v.hidden, semantics: .independent,
                       order: model.settings.fusionOrder)
        }
    }
}

