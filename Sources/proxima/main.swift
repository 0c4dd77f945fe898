import Numerics
import Foundation
var x: Float = -87
var worst = 0.0; var wx: Float = 0
while x < 88.5 { let g = Double(expScalar(x)), w = Foundation.exp(Double(x)); let e = abs(g-w)/w; if e > worst { worst = e; wx = x }; x += 0.01337 }
print(worst, wx, expScalar(wx), Foundation.exp(Double(wx)))
for v: Float in [-87.33, -87, -10, -1, 0, 1, 10, 88, 88.3, 88.5, 88.7] { print(v, expScalar(v), Foundation.exp(Double(v))) }
