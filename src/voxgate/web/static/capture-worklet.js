// Microphone → PCM16 chunks at the session's rate. Posts {pcm: ArrayBuffer, level: dBFS}
// every `chunkMs`; resamples (box pre-filter + linear interpolation, state kept across
// blocks) when the AudioContext runs at another rate. Post "stop" to end it.

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, chunkMs } = options.processorOptions;
    this.ratio = sampleRate / targetRate; // input samples per output sample
    this.size = Math.round((targetRate * chunkMs) / 1000);
    this.chunk = new Int16Array(this.size);
    this.fill = 0;
    this.sumSquares = 0;
    this.pos = 0; // next output position, in input samples from the block's start
    this.prev = 0; // last (filtered) input sample of the previous block
    this.taps = this.ratio > 1 ? Math.round(this.ratio) : 1;
    this.history = new Float32Array(this.taps);
    this.historyAt = 0;
    this.historySum = 0;
    this.active = true;
    this.port.onmessage = (event) => {
      if (event.data === "stop") this.active = false;
    };
  }

  process(inputs) {
    if (!this.active) return false;
    const channels = inputs[0];
    if (channels.length === 0) return true; // not connected yet
    const n = channels[0].length;
    const mono = new Float32Array(n);
    for (const channel of channels) {
      for (let i = 0; i < n; i++) mono[i] += channel[i] / channels.length;
    }
    if (this.ratio === 1) {
      for (let i = 0; i < n; i++) this.emit(mono[i]);
      return true;
    }
    if (this.taps > 1) {
      // Moving average over about one output period: a cheap anti-aliasing filter.
      for (let i = 0; i < n; i++) {
        this.historySum += mono[i] - this.history[this.historyAt];
        this.history[this.historyAt] = mono[i];
        this.historyAt = (this.historyAt + 1) % this.taps;
        mono[i] = this.historySum / this.taps;
      }
    }
    while (this.pos <= n - 1) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i < 0 ? this.prev : mono[i];
      const b = i + 1 < n ? mono[i + 1] : a;
      this.emit(a + (b - a) * frac);
      this.pos += this.ratio;
    }
    this.pos -= n;
    this.prev = mono[n - 1];
    return true;
  }

  emit(sample) {
    const s = Math.max(-1, Math.min(1, sample));
    this.chunk[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.sumSquares += s * s;
    if (this.fill === this.size) {
      const rms = Math.sqrt(this.sumSquares / this.size);
      const level = rms > 0 ? 20 * Math.log10(rms) : -120;
      this.port.postMessage({ pcm: this.chunk.buffer, level }, [this.chunk.buffer]);
      this.chunk = new Int16Array(this.size);
      this.fill = 0;
      this.sumSquares = 0;
    }
  }
}

registerProcessor("voxgate-capture", CaptureProcessor);
