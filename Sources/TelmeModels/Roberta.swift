import TelmeTensor

/// Why a batch of token ids cannot go through a RoBERTa encoder. Positions are 0-based.
public enum RobertaInputError: Error, Equatable, CustomStringConvertible {
    /// A batch with sequences of length 0.
    case emptySequence
    /// Sequence `row` has `length` tokens where the batch's first has `expected`.
    case raggedBatch(row: Int, length: Int, expected: Int)
    /// The mask's shape differs from the ids' shape.
    case maskShape(ids: [Int], mask: [Int])
    /// A mask entry other than 0 or 1.
    case maskValue(row: Int, position: Int, value: Int)
    /// A token id outside the embedding table.
    case tokenOutOfRange(row: Int, position: Int, id: Int, vocabularySize: Int)
    /// More non-pad tokens than the position table holds.
    case tooLong(row: Int, tokens: Int, limit: Int)

    public var description: String {
        switch self {
        case .emptySequence:
            "sequences have length 0"
        case let .raggedBatch(row, length, expected):
            "sequence \(row) has \(length) tokens, the first has \(expected)"
        case let .maskShape(ids, mask):
            "attention mask has shape \(mask), input ids have \(ids)"
        case let .maskValue(row, position, value):
            "attention mask [\(row), \(position)] is \(value), expected 0 or 1"
        case let .tokenOutOfRange(row, position, id, vocabularySize):
            "token id [\(row), \(position)] is \(id), outside the vocabulary of \(vocabularySize)"
        case let .tooLong(row, tokens, limit):
            "sequence \(row) has \(tokens) non-pad tokens, the model takes at most \(limit)"
        }
    }
}

/// RoBERTa's embeddings: word + absolute position + token type 0, then LayerNorm.
public struct RobertaEmbeddings: Sendable {
    public let words: WeightView
    public let positions: WeightView
    public let tokenTypes: WeightView
    public let layerNorm: LayerNorm
    public let paddingIndex: Int

    /// Fetches `<prefix>embeddings.*`.
    public init(config c: RobertaConfig, weights: any WeightSource, prefix: String) throws {
        let p = "\(prefix)embeddings"
        words = try weights.weight("\(p).word_embeddings.weight", shape: [c.vocabSize, c.hiddenSize])
        positions = try weights.weight("\(p).position_embeddings.weight",
                                       shape: [c.maxPositionEmbeddings, c.hiddenSize])
        tokenTypes = try weights.weight("\(p).token_type_embeddings.weight", shape: [c.typeVocabSize, c.hiddenSize])
        layerNorm = try LayerNorm(weights, "\(p).LayerNorm", width: c.hiddenSize, eps: c.layerNormEps)
        paddingIndex = c.padTokenId
    }

    /// RoBERTa position ids of one sequence, from its ids as HF computes them
    /// (`create_position_ids_from_input_ids`): a non-pad token at position i gets
    /// `paddingIndex + (number of non-pad tokens in 0...i)`, a pad token gets `paddingIndex`.
    /// With left padding the first real token therefore always has position `paddingIndex + 1`.
    public static func positionIDs(_ ids: [Int], paddingIndex: Int) -> [Int] {
        var count = 0
        return ids.map { id in
            guard id != paddingIndex else { return paddingIndex }
            count += 1
            return paddingIndex + count
        }
    }

    /// `[B, L, hidden]` embeddings of a rectangular batch of valid ids.
    public func callAsFunction(inputIDs: [[Int]]) -> Tensor {
        let batch = inputIDs.count
        let length = inputIDs.first?.count ?? 0
        let flatIDs = inputIDs.flatMap { $0 }
        let flatPositions = inputIDs.flatMap { Self.positionIDs($0, paddingIndex: paddingIndex) }
        // Same order of additions as HF: (word + token type) + position.
        var x = Ops.gatherRows(words, indices: flatIDs, shape: [batch, length])
        Ops.addRows(&x, table: tokenTypes, indices: [Int](repeating: 0, count: flatIDs.count))
        Ops.addRows(&x, table: positions, indices: flatPositions)
        layerNorm(&x)
        return x
    }
}

/// One post-LN RoBERTa layer: self-attention, add & LayerNorm, GELU feed-forward, add & LayerNorm.
public struct RobertaLayer: Sendable {
    /// Query, key and value in one product (`Linear(stacking:)`).
    public let queryKeyValue: Linear
    public let attentionOutput: Linear
    public let attentionLayerNorm: LayerNorm
    public let intermediate: Linear
    public let output: Linear
    public let outputLayerNorm: LayerNorm
    public let heads: Int

    /// Fetches `<prefix>encoder.layer.<index>.*`.
    public init(config c: RobertaConfig, weights: any WeightSource, prefix: String, index: Int) throws {
        let p = "\(prefix)encoder.layer.\(index)"
        let h = c.hiddenSize
        let names = Architecture.PostNormLayerNames.roberta
        queryKeyValue = try Linear(weights, stacking: names.queryKeyValue.map { "\(p).\($0)" },
                                   out: h, in: h, quantisable: true)
        attentionOutput = try Linear(weights, "\(p).\(names.attentionOutput)", out: h, in: h, quantisable: true)
        attentionLayerNorm = try LayerNorm(weights, "\(p).\(names.attentionNorm)", width: h, eps: c.layerNormEps)
        intermediate = try Linear(weights, "\(p).\(names.intermediate)", out: c.intermediateSize, in: h,
                                  activation: .gelu, quantisable: true)
        output = try Linear(weights, "\(p).\(names.output)", out: h, in: c.intermediateSize, quantisable: true)
        outputLayerNorm = try LayerNorm(weights, "\(p).\(names.outputNorm)", width: h, eps: c.layerNormEps)
        heads = c.numAttentionHeads
    }

    /// The layer over every position: `x` is `[B, L, hidden]`, so is the result.
    public func callAsFunction(_ x: Tensor, batch: Int, length: Int, keyMask: [[Bool]]) -> Tensor {
        let context = Ops.selfAttention(queryKeyValue(x), batch: batch, length: length, heads: heads, keyMask: keyMask)
        return feedForward(context.reshaped(x.shape), residual: x)
    }

    /// The layer's output at the given row of every sequence only (`[B, hidden]`). Keys and
    /// values still come from every position; the other rows of the output are never made.
    public func callAsFunction(_ x: Tensor, batch: Int, length: Int, keyMask: [[Bool]], onlyPosition: Int) -> Tensor {
        let rows = (0..<batch).map { $0 * length + onlyPosition }
        let selected = Ops.selectRows(x, rows)
        // The query of every position is computed too (one stacked product; 1/72 of the layer).
        let context = Ops.selfAttention(queryKeyValue(x), batch: batch, length: length, heads: heads,
                                        queryPosition: onlyPosition, keyMask: keyMask)
        return feedForward(context.reshaped(selected.shape), residual: selected)
    }

    private func feedForward(_ context: Tensor, residual: Tensor) -> Tensor {
        var attended = attentionOutput(context)
        attentionLayerNorm(&attended, residual: residual)
        let inner = intermediate(attended)
        var out = output(inner)
        outputLayerNorm(&out, residual: attended)
        return out
    }
}

/// A RoBERTa encoder of any size (no pooler), from its config and weights named
/// `<prefix>embeddings.*`, `<prefix>encoder.layer.<i>.*`.
///
/// Inputs are rectangular batches of token ids with a 0/1 attention mask (1 = attend);
/// position ids come from the ids (pad = `padTokenId`), as in HF.
public final class RobertaEncoder: @unchecked Sendable {
    public let config: RobertaConfig
    public let embeddings: RobertaEmbeddings
    public let layers: [RobertaLayer]
    /// Owns the memory the weight views point into.
    private let weights: any WeightSource

    public init(config: RobertaConfig, weights: any WeightSource, prefix: String) throws {
        guard config.hiddenAct == "gelu" else {
            throw TextModelError("RoBERTa activation \(config.hiddenAct) is not supported (only gelu)")
        }
        guard config.numAttentionHeads > 0, config.hiddenSize % config.numAttentionHeads == 0 else {
            throw TextModelError(
                "RoBERTa hidden size \(config.hiddenSize) is not a multiple of \(config.numAttentionHeads) heads")
        }
        guard config.typeVocabSize >= 1, config.padTokenId >= 0, config.padTokenId < config.maxPositionEmbeddings
        else {
            throw TextModelError("RoBERTa config has \(config.typeVocabSize) token types and pad id "
                + "\(config.padTokenId) for \(config.maxPositionEmbeddings) positions")
        }
        self.config = config
        self.weights = weights
        embeddings = try RobertaEmbeddings(config: config, weights: weights, prefix: prefix)
        layers = try (0..<config.numHiddenLayers).map {
            try RobertaLayer(config: config, weights: weights, prefix: prefix, index: $0)
        }
    }

    /// The largest number of non-pad tokens a sequence may have (514 positions, pad 1: 512).
    public var maxTokens: Int { config.maxPositionEmbeddings - config.padTokenId - 1 }

    /// Checks a batch before it is run: rectangular, same shape as its mask, mask 0/1, ids in
    /// the vocabulary, positions within the table.
    public func validate(inputIDs: [[Int]], attentionMask: [[Int]]) throws(RobertaInputError) {
        guard let length = inputIDs.first?.count else { return }
        guard length > 0 else { throw .emptySequence }
        for (row, ids) in inputIDs.enumerated() where ids.count != length {
            throw .raggedBatch(row: row, length: ids.count, expected: length)
        }
        guard attentionMask.count == inputIDs.count, attentionMask.allSatisfy({ $0.count == length }) else {
            throw .maskShape(ids: [inputIDs.count, length],
                             mask: [attentionMask.count, attentionMask.first?.count ?? 0])
        }
        for (row, mask) in attentionMask.enumerated() {
            if let position = mask.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                throw .maskValue(row: row, position: position, value: mask[position])
            }
        }
        for (row, ids) in inputIDs.enumerated() {
            if let position = ids.firstIndex(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw .tokenOutOfRange(row: row, position: position, id: ids[position],
                                       vocabularySize: config.vocabSize)
            }
            let tokens = ids.count { $0 != config.padTokenId }
            if tokens > maxTokens { throw .tooLong(row: row, tokens: tokens, limit: maxTokens) }
        }
    }

    /// `last_hidden_state`, `[B, L, hidden]`, of a valid batch (see `validate`).
    public func callAsFunction(inputIDs: [[Int]], attentionMask: [[Int]]) -> Tensor {
        let (batch, length, keyMask) = prepare(inputIDs: inputIDs, attentionMask: attentionMask)
        var x = embeddings(inputIDs: inputIDs)
        for layer in layers {
            x = layer(x, batch: batch, length: length, keyMask: keyMask)
        }
        return x
    }

    /// `last_hidden_state[:, -1, :]`, `[B, hidden]`, of a valid batch: the same numbers as the
    /// full pass, but the last layer computes only the last position of each sequence.
    public func lastPosition(inputIDs: [[Int]], attentionMask: [[Int]]) -> Tensor {
        let (batch, length, keyMask) = prepare(inputIDs: inputIDs, attentionMask: attentionMask)
        guard batch > 0 else { return Tensor(zeros: [0, config.hiddenSize]) }
        var x = embeddings(inputIDs: inputIDs)
        guard let last = layers.last else {
            return Ops.selectRows(x, (0..<batch).map { $0 * length + length - 1 })
        }
        for layer in layers.dropLast() {
            x = layer(x, batch: batch, length: length, keyMask: keyMask)
        }
        return last(x, batch: batch, length: length, keyMask: keyMask, onlyPosition: length - 1)
    }

    private func prepare(inputIDs: [[Int]], attentionMask: [[Int]]) -> (Int, Int, [[Bool]]) {
        do {
            try validate(inputIDs: inputIDs, attentionMask: attentionMask)
        } catch {
            preconditionFailure("RoBERTa input not validated: \(error)")
        }
        return (inputIDs.count, inputIDs.first?.count ?? 0, attentionMask.map { $0.map { $0 != 0 } })
    }
}
