"""Every threshold the Numba face's choices depend on, named and explained once.

The values come from the benchmarks in ``benchmarks/`` (docs/performance.md tells how to
rerun them); none changes a result beyond rounding, only which loop computes it and how the
work is cut into parallel tasks. The tests shrink them to send small shapes down every path.

Which convolution loop (``conv.py``):

* ``WINOGRAD_MIN_CHANNELS``, ``WINOGRAD_MIN_PIXELS`` and ``WINOGRAD_MIN_EVEN_SIDE``:
  Winograd's F(2×2, 3×3) needs this many input and output channels (else its transforms cost
  more than the multiplications it saves) and output planes of this many pixels, or with even
  sides of at least this length, whose 2×2 tiles waste nothing (a 3×3 plane's four tiles
  waste 7 of their 16 outputs).

* ``PAIRS_MAX_PIXELS`` and ``PAIRS_MIN_BATCH``: output planes of at most this many pixels
  (AlexNet's and NiN's 7 × 7 and smaller) are computed pixel pair by pixel pair, one GEMM
  per pair that a tap joins: no products with padding, which im2col spends 30–55 % of its
  work on at these sizes. Each pair's GEMM has one row per image (its weight gradient sums
  over the images), so the batch must have at least PAIRS_MIN_BATCH of them: with fewer,
  packing the (C_in, C_out) weight for every pair costs more than the padding saves.

How the work is cut:

* ``CHUNK_BYTES``: the columns (or Winograd tiles) of one chunk of images: about one core's
  L2 cache, so that they are multiplied before they travel to main memory.
* ``MIN_COLUMNS``: a chunk's GEMM gets at least this many columns; OpenBLAS slows below.
* ``MIN_IMAGE_COLUMNS``: output planes of at least this many pixels get a GEMM of their own,
  written straight into the output (LeNet's 28 × 28 and 10 × 10); smaller ones (ResNet's last
  6 × 6 and 3 × 3) are multiplied a chunk at once and copied out.
* ``PARTIAL_BYTES`` and ``MIN_PARTIALS``: a weight gradient is summed over the batch as
  partial results, one per group of chunks: at most this many bytes of them, and at least
  this many, so that several cores share the work (also the fewest blocks of rows below).
* ``DENSE_BLOCK_MACS``: a dense layer's product is cut into blocks of output columns, one
  thread each, of at least this many multiply-adds (and at most MIN_PARTIALS blocks): smaller
  ones (LeNet's) cost more in handing over to threads than they save.
* ``SMALL_GRAD_BYTES``: a weight gradient whose dY is at most this large splits the rows of
  its result among the tasks instead of the batch (small images: dY small, result not).
"""

WINOGRAD_MIN_CHANNELS = 32
WINOGRAD_MIN_PIXELS = 36
WINOGRAD_MIN_EVEN_SIDE = 4
PAIRS_MAX_PIXELS = 49
PAIRS_MIN_BATCH = 64

CHUNK_BYTES = 1 << 20
MIN_COLUMNS = 256
MIN_IMAGE_COLUMNS = 64
PARTIAL_BYTES = 1 << 23
MIN_PARTIALS = 4
SMALL_GRAD_BYTES = 1 << 20
DENSE_BLOCK_MACS = 1 << 24
