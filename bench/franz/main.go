// franz-go's benchmark client for kafkit's harness (bench/run.py). Same
// arguments, records and output as the Rust clients (bench/src/lib.rs): START
// when the measured window opens, one JSON line when it closes.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type args struct {
	mode, brokers, topic, compression, acks, group string
	size, count, partitions, linger                int
	rate                                           int64
	idempotence                                    bool
}

func parse() args {
	var a args
	var idem string
	var replication int
	flag.StringVar(&a.mode, "mode", "produce", "")
	flag.StringVar(&a.brokers, "brokers", "127.0.0.1:9092", "")
	flag.StringVar(&a.topic, "topic", "bench", "")
	flag.IntVar(&a.size, "size", 100, "")
	flag.IntVar(&a.count, "count", 100000, "")
	flag.StringVar(&a.compression, "compression", "none", "")
	flag.StringVar(&a.acks, "acks", "1", "")
	flag.StringVar(&idem, "idempotence", "false", "")
	flag.IntVar(&a.partitions, "partitions", 1, "")
	flag.Int64Var(&a.rate, "rate", 10000, "")
	flag.StringVar(&a.group, "group", "bench-group", "")
	flag.IntVar(&a.linger, "linger-ms", 5, "")
	flag.IntVar(&replication, "replication", 1, "")
	flag.Parse()
	a.idempotence = idem == "true"
	return a
}

// values mirrors bench/src/lib.rs: half a template, half xorshift letters.
func values(size int) [][]byte {
	state := uint64(0x9e3779b97f4a7c15)
	template := []byte(`{"event":"page_view","site":"example.org","path":"/a/b/c"}`)
	out := make([][]byte, 512)
	for i := range out {
		v := make([]byte, 0, size)
		for j := 0; j < size/2; j++ {
			v = append(v, template[j%len(template)])
		}
		for len(v) < size {
			state ^= state << 13
			state ^= state >> 7
			state ^= state << 17
			v = append(v, 'a'+byte(state%26))
		}
		out[i] = v
	}
	return out
}

func value(vs [][]byte, i int) []byte { return vs[(i*7)%len(vs)] }

func startWindow() time.Time {
	fmt.Println("START")
	return time.Now()
}

type report struct {
	mode           string
	records, bytes int
	elapsed        time.Duration
	latencies      []int64
	startup        time.Duration
	hasStartup     bool
}

func (r report) print() {
	secs := r.elapsed.Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, `{"client":"franz-go","mode":"%s","records":%d,"bytes":%d,"elapsed_s":%.6f,"records_per_s":%.1f,"mb_per_s":%.3f`,
		r.mode, r.records, r.bytes, secs, float64(r.records)/secs, float64(r.bytes)/secs/1e6)
	if len(r.latencies) > 0 {
		sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
		pct := func(p float64) int64 {
			idx := int(float64(len(r.latencies))*p + 0.999999)
			if idx < 1 {
				idx = 1
			}
			if idx > len(r.latencies) {
				idx = len(r.latencies)
			}
			return r.latencies[idx-1]
		}
		fmt.Fprintf(&b, `,"p50_us":%d,"p99_us":%d,"p999_us":%d`, pct(0.5), pct(0.99), pct(0.999))
	}
	if r.hasStartup {
		fmt.Fprintf(&b, `,"startup_ms":%.1f`, r.startup.Seconds()*1e3)
	}
	b.WriteString("}")
	fmt.Println(b.String())
}

func producerOpts(a args) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(a.brokers, ",")...),
		kgo.DefaultProduceTopic(a.topic),
		kgo.ProducerLinger(time.Duration(a.linger) * time.Millisecond),
		kgo.ProducerBatchMaxBytes(256 * 1024),
		kgo.MaxBufferedRecords(2000000),
		kgo.MaxBufferedBytes(512 * 1024 * 1024),
	}
	switch a.compression {
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	if a.acks == "all" {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	}
	if !a.idempotence {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	return opts
}

// send produces n records and waits for every acknowledgement.
func send(ctx context.Context, cl *kgo.Client, vs [][]byte, n int) (int, error) {
	var failed atomic.Value
	var wg sync.WaitGroup
	bytes := 0
	for i := 0; i < n; i++ {
		v := value(vs, i)
		bytes += len(v)
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return bytes, err
	}
	return bytes, nil
}

func produce(ctx context.Context, a args) error {
	cl, err := kgo.NewClient(producerOpts(a)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	vs := values(a.size)
	warm := a.count / 50
	if warm < 100 {
		warm = 100
	}
	if warm > 5000 {
		warm = 5000
	}
	if _, err := send(ctx, cl, vs, warm); err != nil {
		return err
	}
	start := startWindow()
	bytes, err := send(ctx, cl, vs, a.count)
	if err != nil {
		return err
	}
	report{mode: "produce", records: a.count, bytes: bytes, elapsed: time.Since(start)}.print()
	return nil
}

func directConsumer(ctx context.Context, a args) (*kgo.Client, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(a.brokers, ",")...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return nil, err
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

func consume(ctx context.Context, a args) error {
	cl, err := directConsumer(ctx, a)
	if err != nil {
		return err
	}
	defer cl.Close()
	start := startWindow()
	cl.AddConsumeTopics(a.topic)
	records, bytes := 0, 0
	for records < a.count {
		fs := cl.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			return errs[0].Err
		}
		fs.EachRecord(func(r *kgo.Record) {
			records++
			bytes += len(r.Value)
		})
	}
	report{mode: "consume", records: records, bytes: bytes, elapsed: time.Since(start)}.print()
	return nil
}

func e2e(ctx context.Context, a args) error {
	prod, err := kgo.NewClient(producerOpts(a)...)
	if err != nil {
		return err
	}
	defer prod.Close()
	if err := prod.Ping(ctx); err != nil {
		return err
	}
	cons, err := directConsumer(ctx, a)
	if err != nil {
		return err
	}
	defer cons.Close()
	cons.AddConsumeTopics(a.topic)
	type result struct {
		latencies []int64
		bytes     int
		err       error
	}
	done := make(chan result, 1)
	go func() {
		lat := make([]int64, 0, a.count)
		bytes := 0
		for len(lat) < a.count {
			fs := cons.PollFetches(ctx)
			if errs := fs.Errors(); len(errs) > 0 {
				done <- result{err: errs[0].Err}
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				now := time.Now().UnixNano()
				if len(r.Value) >= 8 {
					lat = append(lat, (now-int64(binary.LittleEndian.Uint64(r.Value[:8])))/1000)
				}
				bytes += len(r.Value)
			})
		}
		done <- result{latencies: lat, bytes: bytes}
	}()
	vs := values(a.size)
	start := startWindow()
	var failed atomic.Value
	var wg sync.WaitGroup
	sent := 0
	for sent < a.count {
		due := int(time.Since(start).Seconds() * float64(a.rate))
		if due > a.count {
			due = a.count
		}
		for ; sent < due; sent++ {
			v := append([]byte(nil), value(vs, sent)...)
			binary.LittleEndian.PutUint64(v[:8], uint64(time.Now().UnixNano()))
			wg.Add(1)
			prod.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(err)
				}
				wg.Done()
			})
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	r := <-done
	if r.err != nil {
		return r.err
	}
	report{mode: "e2e", records: a.count, bytes: r.bytes, elapsed: time.Since(start), latencies: r.latencies}.print()
	return nil
}

func group(ctx context.Context, a args) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(a.brokers, ",")...),
		kgo.ConsumerGroup(a.group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return err
	}
	start := startWindow()
	cl.AddConsumeTopics(a.topic)
	bytes := -1
	for bytes < 0 {
		fs := cl.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			return errs[0].Err
		}
		fs.EachRecord(func(r *kgo.Record) {
			if bytes < 0 {
				bytes = len(r.Value)
			}
		})
	}
	el := time.Since(start)
	report{mode: "group", records: 1, bytes: bytes, elapsed: el, startup: el, hasStartup: true}.print()
	return nil
}

func main() {
	a := parse()
	ctx := context.Background()
	var err error
	switch a.mode {
	case "produce":
		err = produce(ctx, a)
	case "consume":
		err = consume(ctx, a)
	case "e2e":
		err = e2e(ctx, a)
	case "group":
		err = group(ctx, a)
	default:
		err = fmt.Errorf("unknown mode %s", a.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "franz-go:", err)
		os.Exit(1)
	}
}
