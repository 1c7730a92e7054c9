// Agent audio → speaker, with a small jitter buffer. Messages in:
//   {type: "audio", samples: Float32Array}  at the session's rate (resampled here, state kept)
//   {type: "end"}    the turn's audio is all sent: play what is left, however little
//   {type: "flush"}  drop everything queued now (barge-in)
// Messages out: {type: "started"} when a burst starts playing, {type: "played", samples}
// (session-rate samples played since the last report), {type: "drained"} after an "end".

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { sourceRate, prebufferMs } = options.processorOptions;
    this.step = sourceRate / sampleRate; // source samples per output sample
    this.prebuffer = Math.round((sourceRate * prebufferMs) / 1000);
    this.queue = [];
    this.headAt = 0;
    this.queued = 0;
    this.playing = false;
    this.ending = false;
    this.phase = 1; // linear interpolation between prev and cur
    this.prev = 0;
    this.cur = 0;
    this.unreported = 0;
    this.reportEvery = Math.round(sourceRate / 20);
    this.port.onmessage = ({ data }) => {
      if (data.type === "audio") {
        this.queue.push(data.samples);
        this.queued += data.samples.length;
      } else if (data.type === "end") {
        if (this.playing || this.queued > 0) this.ending = true;
        else this.port.postMessage({ type: "drained" });
      } else if (data.type === "flush") {
        this.queue = [];
        this.headAt = 0;
        this.queued = 0;
        this.playing = false;
        this.ending = false;
        this.phase = 1;
        this.prev = this.cur = 0;
        this.report();
      }
    };
  }

  take() {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (this.headAt < head.length) {
        this.queued--;
        this.unreported++;
        return head[this.headAt++];
      }
      this.queue.shift();
      this.headAt = 0;
    }
    return undefined;
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing) {
      if (this.queued === 0 || (this.queued < this.prebuffer && !this.ending)) return true;
      this.playing = true;
      this.port.postMessage({ type: "started" });
    }
    let starved = false;
    for (let i = 0; i < out.length && !starved; i++) {
      if (this.step === 1) {
        const s = this.take();
        if (s === undefined) starved = true;
        else out[i] = s;
        continue;
      }
      while (this.phase >= 1) {
        const s = this.take();
        if (s === undefined) {
          starved = true;
          break;
        }
        this.prev = this.cur;
        this.cur = s;
        this.phase -= 1;
      }
      if (!starved) {
        out[i] = this.prev + (this.cur - this.prev) * this.phase;
        this.phase += this.step;
      }
    }
    if (starved) {
      // Out of audio: wait for the jitter buffer to fill again (or the turn has ended).
      this.playing = false;
      this.report();
      if (this.ending) {
        this.ending = false;
        this.port.postMessage({ type: "drained" });
      }
    } else if (this.unreported >= this.reportEvery) {
      this.report();
    }
    return true;
  }

  report() {
    if (this.unreported > 0) {
      this.port.postMessage({ type: "played", samples: this.unreported });
      this.unreported = 0;
    }
  }
}

registerProcessor("voxgate-playback", PlaybackProcessor);
