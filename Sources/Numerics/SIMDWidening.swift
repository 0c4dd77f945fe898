// SIMDWidening: byte-to-int32 and int32-to-float conversions written lane by lane, which LLVM turns into
// single vpmovzxbd/vpmovsxbd and vcvtdq2ps instructions (the generic SIMD conversions compile to calls).

@inline(__always) func widenToInt32(_ q: SIMD16<UInt8>) -> SIMD16<Int32> {
    SIMD16<Int32>(Int32(q[0]), Int32(q[1]), Int32(q[2]), Int32(q[3]), Int32(q[4]), Int32(q[5]), Int32(q[6]), Int32(q[7]),
                  Int32(q[8]), Int32(q[9]), Int32(q[10]), Int32(q[11]), Int32(q[12]), Int32(q[13]), Int32(q[14]), Int32(q[15]))
}

@inline(__always) func widenSigned(_ q: SIMD16<Int8>) -> SIMD16<Float> {
    SIMD16<Int32>(Int32(q[0]), Int32(q[1]), Int32(q[2]), Int32(q[3]), Int32(q[4]), Int32(q[5]), Int32(q[6]), Int32(q[7]),
                  Int32(q[8]), Int32(q[9]), Int32(q[10]), Int32(q[11]), Int32(q[12]), Int32(q[13]), Int32(q[14]), Int32(q[15])).floats
}

extension SIMD16 where Scalar == Int32 {
    /// Lane-wise conversion to Float, spelled out so that it compiles to one vcvtdq2ps.
    @inline(__always) var floats: SIMD16<Float> {
        SIMD16<Float>(Float(self[0]), Float(self[1]), Float(self[2]), Float(self[3]), Float(self[4]), Float(self[5]),
                      Float(self[6]), Float(self[7]), Float(self[8]), Float(self[9]), Float(self[10]), Float(self[11]),
                      Float(self[12]), Float(self[13]), Float(self[14]), Float(self[15]))
    }
}

@inline(__always) func widenHalf(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
    func f(_ i: Int) -> Float { Float(Float16(bitPattern: h[i])) }
    return SIMD16<Float>(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11), f(12), f(13), f(14), f(15))
}
