package manager

import (
	"math"
	"sort"
	"time"
	"unsafe"
)

// archive is a closed stream's retained chunks, packed for the RetainClosed they are kept: per
// chunk a 24-byte record instead of an 80-byte Chunk. The ID is the history's first plus the
// chunk's index, the Time its Unix nanoseconds in the one location the chunks share, the Event an
// index into the names other than the default, and the Data is not copied: the record points at
// it, still shared with every client. A chunk that cannot be packed so (an error chunk, one whose
// Time does not come back the same) is kept whole in odd. get returns a Chunk equal to the one
// pushed, its Time without the monotonic reading: a replay of a closed stream is read long
// after, and only the wall clock means anything then.
type archive struct {
	recs   []record // one per retained chunk, oldest first
	events []string // the Event names other than ""; record.event k names events[k-1]
	loc    *time.Location
	odd    []oddChunk // by index
}

type record struct {
	// data and n are Data in 12 bytes where a slice takes 24; its capacity is not kept, Data
	// being read-only.
	data  *byte  // unsafe.SliceData(Data)
	n     uint32 // len(Data)
	event uint16 // 0 for the default Event "", else events[event-1]
	odd   bool   // the chunk is kept whole in archive.odd
	ns    int64  // Time.UnixNano, in archive.loc
}

type oddChunk struct {
	i  int
	ch Chunk
}

// packer packs one history's chunks into an archive. It finds an Event name's index by a scan
// of the names while they are few, as on a Gemini route, and through a map once there are more
// than scanEvents: a push stream's pusher may give every chunk a name of its own, and a scan per
// chunk would make a close quadratic in the chunks, under the stream's lock. The map is let go
// with the packer; the archive keeps only the names.
type packer struct {
	a     *archive
	index map[string]uint16 // a.events' indexes, once there are more than scanEvents
}

const scanEvents = 8

// pack returns ch's record, or keeps ch whole when it cannot be packed.
func (p *packer) pack(i int, ch Chunk) record {
	a := p.a
	r := record{data: unsafe.SliceData(ch.Data), n: uint32(len(ch.Data)), ns: ch.Time.UnixNano()}
	event, ok := p.event(ch.Event)
	if !ok || ch.Err != nil || uint64(len(ch.Data)) > math.MaxUint32 ||
		time.Unix(0, r.ns).In(a.loc) != ch.Time.Round(0) {
		ch.Time = ch.Time.Round(0)
		a.odd = append(a.odd, oddChunk{i, ch})
		return record{odd: true}
	}
	r.event = event
	return r
}

// event returns the index of an Event name, adding it; false when the index would not fit.
func (p *packer) event(name string) (uint16, bool) {
	a := p.a
	if name == "" {
		return 0, true
	}
	if p.index != nil {
		if k, ok := p.index[name]; ok {
			return k, true
		}
	} else {
		for k, e := range a.events {
			if e == name {
				return uint16(k + 1), true
			}
		}
	}
	if len(a.events) == math.MaxUint16 {
		return 0, false
	}
	a.events = append(a.events, name)
	k := uint16(len(a.events))
	switch {
	case p.index != nil:
		p.index[name] = k
	case len(a.events) > scanEvents:
		p.index = make(map[string]uint16, 2*len(a.events))
		for j, e := range a.events {
			p.index[e] = uint16(j + 1)
		}
	}
	return k, true
}

// get returns chunk i, oldest first, with the given ID.
func (a *archive) get(i int, id uint64) Chunk {
	r := a.recs[i]
	if r.odd {
		k := sort.Search(len(a.odd), func(k int) bool { return a.odd[k].i >= i })
		return a.odd[k].ch
	}
	ch := Chunk{ID: id, Data: unsafe.Slice(r.data, r.n), Time: time.Unix(0, r.ns).In(a.loc)}
	if r.event > 0 {
		ch.Event = a.events[r.event-1]
	}
	return ch
}
