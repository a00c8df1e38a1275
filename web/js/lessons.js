/*
 * lessons: the textbook lessons (docs/DESIGN.md section 5) as ready-made
 * runs.  Each is a spec for the form, whether it runs one model, compares
 * them all or sweeps one value, and one or two sentences saying what to
 * look for.  Pressing a lesson fills in the form and starts it, so every
 * value stays visible and can be changed for the next run; the sentence
 * stays above the run's timeline.
 *
 * Which run or compare came from which lesson is remembered for the tab
 * (sessionStorage), so a reload keeps the sentence; a shared address shows
 * the run without it.
 */

import { el, clear } from './dom.js';

/* Requests over loopback (io, green) between short computations (blue):
 * the two colours that differ most. */
const TICKS = Array(5).fill('net 50ms, cpu 5ms').join(', ');

export const LESSONS = [
	{
		id: 'io-overlap',
		title: 'Waiting overlaps',
		compare: true,
		spec: { workload: 'fetch',
			params: { tasks: 3, duration: 2000 } },
		look: 'Three requests that each wait 2 s. Sequential takes ' +
			'about 6 s, one wait after another; threads, the ' +
			'thread pool and asyncio take about 2 s, because ' +
			'their waits overlap. The process pool has one ' +
			'worker per core: with fewer cores than requests, ' +
			'the rest queue (grey) and wait their turn.',
	},
	{
		id: 'pool-batches',
		title: 'A pool runs in batches',
		spec: { workload: 'fetch', model: 'thread-pool',
			params: { tasks: 8, duration: 1500 },
			options: { workers: 4 } },
		look: 'Eight requests on four workers: four wait for their ' +
			'reply while the other four are queued (grey), so ' +
			'the run takes two waits, about 3 s. Rows: Lanes ' +
			'shows the four workers. Waiting needs no core, so ' +
			'the diagnosis asks for a worker per request.',
	},
	{
		id: 'pool-map',
		title: 'map: results in submission order',
		spec: { workload: 'custom', model: 'thread-pool',
			params: { program: 'sleep 600ms; sleep 100ms; ' +
				  'sleep 300ms; sleep 50ms' },
			options: { workers: 4, collect: 'map', handle: 50 } },
		look: 'Executor.map hands the results back in the order the ' +
			'tasks were submitted. Tasks 2, 3 and 4 finish early, ' +
			'but the caller (the consumer lane in Rows: Lanes) ' +
			'handles them only after task 1\'s result, at 600 ms. ' +
			'Set collect to as_completed to handle each result as ' +
			'it finishes, or imap to submit only a worker\'s ' +
			'worth ahead.',
	},
	{
		id: 'pool-as-completed',
		title: 'as_completed: results as they finish',
		spec: { workload: 'custom', model: 'process-pool',
			params: { program: 'sleep 600ms; sleep 100ms; ' +
				  'sleep 300ms; sleep 50ms' },
			options: { workers: 4, collect: 'as_completed',
				   handle: 50 } },
		look: 'concurrent.futures.as_completed yields each future as ' +
			'it finishes: the caller (the consumer lane in Rows: ' +
			'Lanes) handles task 4\'s result first, while task 1 ' +
			'still sleeps, and task 1\'s last. The checks list ' +
			'the order handled (collected) and the finish order.',
	},
	{
		id: 'pool-imap',
		title: 'imap: a buffer of tasks ahead',
		spec: { workload: 'custom', model: 'thread-pool',
			params: { program: 'sleep 300ms; 3 x (sleep 100ms)' },
			options: { workers: 2, collect: 'imap', handle: 50 } },
		look: 'Executor.map(..., buffersize=2), new in Python 3.14, ' +
			'submits only two tasks ahead of the caller. Tasks 1 ' +
			'and 2 start at once; task 3 is submitted only when ' +
			'the caller takes task 1\'s result (the consumer lane ' +
			'in Rows: Lanes, at about 300 ms), task 4 when it ' +
			'takes task 2\'s, so their rows begin late. With map ' +
			'every task is submitted at once and results wait in ' +
			'memory for the caller.',
	},
	{
		id: 'pool-chunksize',
		title: 'map with chunksize: fewer, bigger transfers',
		spec: { workload: 'crunch', model: 'process-pool',
			params: { tasks: 8, duration: 40 },
			options: { workers: 2, collect: 'map', chunksize: 4,
				   payload_bytes: 1048576, handle: 10 } },
		look: 'ProcessPoolExecutor.map(..., chunksize=4) sends the ' +
			'eight tasks (1 MiB each) to the two workers four at ' +
			'a time: one argument and one result per chunk (ipc, ' +
			'noted a chunk), two transfers each way instead of ' +
			'eight. A chunk\'s results come back together, so ' +
			'the caller (the consumer lane in Rows: Lanes) ' +
			'handles them four at a time, none before its ' +
			'chunk\'s last task is done. Set chunksize to 1 for ' +
			'a transfer per task.',
	},
	{
		id: 'async-longest',
		title: 'asyncio: the longest, not the sum',
		spec: { workload: 'fetch', model: 'asyncio',
			params: { durations: '1.5s,2s,1s' } },
		look: 'Waits of 1.5, 2 and 1 s on one thread: the run ends ' +
			'with the longest, about 2 s, not after the 4.5 s ' +
			'they add up to. Rows: Lanes shows that one thread, ' +
			'the event loop, did all three.',
	},
	{
		id: 'async-scale',
		title: 'asyncio scales where threads do not',
		spec: { workload: 'fetch', model: 'asyncio',
			params: { tasks: 100000, duration: 1000,
				  io: 'sleep' } },
		look: 'A hundred thousand tasks, each awaiting a 1 s ' +
			'asyncio.sleep, on one thread: every wait is open at ' +
			'once, and the run takes about 1 s, not a hundred ' +
			'thousand of them. Set model to threads and run ' +
			'again: it is refused, at most 10,000 threads, as a ' +
			'thread each costs a stack and a start where a ' +
			'coroutine costs about a kilobyte.',
	},
	{
		id: 'memory-threads',
		title: 'Memory: a thread per task',
		spec: { workload: 'fetch', model: 'threads',
			params: { tasks: 1000, duration: 500 } },
		look: 'A thousand requests, each on a thread of its own. The ' +
			'dotted orange line under the timeline (memory the ' +
			'tasks hold) climbs as the threads start: in Python ' +
			'each holds about 15 KiB (the stack pages it has ' +
			'touched, its thread state, its Thread object; the ' +
			'8 MiB stack it reserves is address space, not ' +
			'memory), about 15 MiB in all. The next lesson runs ' +
			'ten times as many tasks as coroutines.',
	},
	{
		id: 'memory-coroutines',
		title: 'Memory: a coroutine per task',
		spec: { workload: 'fetch', model: 'asyncio',
			params: { tasks: 10000, duration: 500 } },
		look: 'Ten thousand requests as asyncio Tasks on one ' +
			'thread: each holds about 1.1 KiB, so ten times the ' +
			'tasks of the thread lesson hold less memory, about ' +
			'11 MiB (Peak memory, Memory per task). Hence the ' +
			'rule of thumb: about 1,000 threads, but 10,000 ' +
			'coroutines. Under engine cpython the line is ' +
			'measured in a real interpreter, and each task\'s ' +
			'socket and buffers count too.',
	},
	{
		id: 'gil',
		title: 'The GIL serialises CPU work',
		spec: { workload: 'crunch', model: 'threads',
			params: { tasks: 2, duration: 500 },
			options: { gil: 'on' } },
		look: 'Two CPU-bound threads take turns: compute alternates ' +
			'with gil-wait every switch interval, so the speedup ' +
			'stays about 1×.',
	},
	{
		id: 'free-threaded',
		title: 'Without the GIL, threads scale',
		spec: { workload: 'crunch', model: 'threads',
			params: { tasks: 2, duration: 500 },
			options: { gil: 'off' } },
		look: 'The same two threads with the GIL off (the ' +
			'free-threaded build) compute at once, one per core: ' +
			'the speedup is about the number of cores.',
	},
	{
		id: 'runnable',
		title: 'More threads than cores',
		spec: { workload: 'crunch', model: 'threads',
			params: { tasks: 6, duration: 300 },
			options: { gil: 'off' } },
		look: 'Six threads compute without a GIL, but the machine ' +
			'has fewer cores: at any moment only a core\'s worth ' +
			'of them compute, and the others are runnable ' +
			'(waiting for a core, measured from each thread\'s ' +
			'CPU clock). Parallelism stays at the number of ' +
			'cores: more threads do not go faster.',
	},
	{
		id: 'processes',
		title: 'Processes use the cores',
		spec: { workload: 'crunch', model: 'process-pool',
			params: { tasks: 2, duration: 500 },
			options: { payload_bytes: 8388608 } },
		look: 'Each task computes in its own worker process, all at ' +
			'once; starting the workers (startup) and copying ' +
			'each task\'s 8 MiB argument and result between ' +
			'processes (ipc) are the price.',
	},
	{
		id: 'forkserver',
		title: 'A fork server starts the workers',
		spec: { workload: 'crunch', model: 'process-pool',
			params: { tasks: 4, duration: 200 },
			options: { workers: 2, start: 'forkserver' } },
		look: 'The start method Python 3.14 uses on Linux: one ' +
			'fork server is spawned first (its startup on the ' +
			'ForkServer lane, a fresh program), and it forks every ' +
			'worker from itself. It has a single thread, so its ' +
			'forks are safe where forking a program with threads ' +
			'is not, and each worker\'s own startup is as short as ' +
			'a plain fork\'s. Rows: Lanes shows the server and its ' +
			'two workers.',
	},
	{
		id: 'pickling',
		title: 'A lambda cannot be pickled',
		spec: { workload: 'crunch', model: 'process-pool',
			params: { tasks: 2, duration: 100 },
			options: { start: 'spawn', pitfall: 'lambda' } },
		look: 'Submitting a lambda to a process pool: the function ' +
			'goes to the worker pickled, by its importable name, ' +
			'and a lambda has none. Every task ends as error with ' +
			'the PicklingError Python raises, and no worker ever ' +
			'computes. Define the function with def at the top ' +
			'of the module.',
	},
	{
		id: 'main-guard',
		title: 'The missing main guard',
		spec: { workload: 'crunch', model: 'process-pool',
			params: { tasks: 2, duration: 100 },
			options: { start: 'spawn', pitfall: 'no-main-guard' } },
		look: 'A module that starts its pool at import, without ' +
			'if __name__ == "__main__":. Under spawn (and ' +
			'forkserver) each worker imports the main module ' +
			'afresh, so it tries to start processes of its own ' +
			'while it is still starting: RuntimeError, the ' +
			'worker dies, the pool is broken and every task ends ' +
			'as error. Under fork nothing is imported again, so ' +
			'it is refused there.',
	},
	{
		id: 'fork-after-threads',
		title: 'Fork after threads: a lock copied held',
		spec: { workload: 'crunch', model: 'process-pool',
			params: { tasks: 4, duration: 100 },
			options: { workers: 2, start: 'fork',
				   pitfall: 'fork-after-threads' } },
		look: 'A thread of the program holds a lock (as logging ' +
			'holds its handler\'s while it writes a record) at the ' +
			'moment the pool forks its workers, and each task ' +
			'takes that lock (it logs a line). fork copies the ' +
			'process as it is, the held lock included, but only ' +
			'the thread that forked: in each worker nobody will ' +
			'ever release it. Each worker\'s first task waits ' +
			'(lock-wait, on its ForkProcess lane) until the run ' +
			'is called a deadlock; the other tasks never start. ' +
			'Python 3.12 and later warn at such a fork. Start the ' +
			'workers with forkserver or spawn (forkserver is the ' +
			'default from 3.14) and the pitfall is refused.',
	},
	{
		id: 'interpreters',
		title: 'Interpreters: between threads and processes',
		spec: { workload: 'crunch', model: 'interpreter-pool',
			params: { tasks: 2, duration: 300 },
			options: { workers: 2, payload_bytes: 8388608 } },
		look: 'Python 3.14\'s InterpreterPoolExecutor: each worker ' +
			'is a thread running its own interpreter with its own ' +
			'GIL, so both tasks compute at once, as processes ' +
			'do, and nobody waits for a GIL. Starting an ' +
			'interpreter (startup) costs more than a thread and ' +
			'less than a spawned process; nothing is shared, so ' +
			'each task\'s 8 MiB argument and result are copied ' +
			'between interpreters (ipc), and a program whose ' +
			'tasks share a lock or a counter is refused.',
	},
	{
		id: 'blocking',
		title: 'A blocking call freezes the loop',
		spec: { workload: 'custom', model: 'asyncio',
			params: { program: `4 x (${TICKS}, net 50ms); ` +
				  '1 x (net 75ms, cpu 150ms)' } },
		look: 'Four tasks tick every 50 ms (a short compute between ' +
			'requests). The fifth computes for 150 ms on the ' +
			'event loop, and meanwhile no other task ticks: ' +
			'their replies are in, but they are ready (waiting ' +
			'for the loop) until the computation ends. Max loop ' +
			'lag says by how much, and the diagnosis counts the ' +
			'tasks it held up and points to asyncio with an ' +
			'executor.',
	},
	{
		id: 'block',
		title: 'time.sleep in a coroutine',
		spec: { workload: 'custom', model: 'asyncio',
			params: { program: `4 x (${TICKS}, net 50ms); ` +
				  '1 x (net 75ms, block 150ms)' } },
		look: 'The same four ticking tasks; the fifth calls ' +
			'time.sleep(0.15) in its coroutine (a block step) ' +
			'instead of awaiting asyncio.sleep. The loop\'s thread ' +
			'sleeps, so nothing computes, yet no other task ' +
			'ticks: they are ready (waiting for the loop) until ' +
			'the sleep ends. The diagnosis names the blocking ' +
			'call and says to await asyncio.sleep.',
	},
	{
		id: 'nogil',
		title: 'A C extension releases the GIL',
		spec: { workload: 'custom', model: 'threads',
			params: { program: '2 x (cpu-nogil 300ms)' },
			options: { gil: 'on' } },
		look: 'Two threads under the GIL, each computing in a C ' +
			'extension that releases it (as NumPy, hashlib and ' +
			'zlib do: a cpu-nogil step): both compute at once, ' +
			'one per core, with no gil-wait, where the GIL ' +
			'lesson\'s pure-Python threads take turns. The ' +
			'compute segments\' tooltip says they release the ' +
			'GIL.',
	},
	{
		id: 'rlock',
		title: 'An RLock re-enters',
		spec: { workload: 'custom', model: 'threads',
			params: { program: 'rlock r; 3 x (lock r, lock r, ' +
				  'cpu 20ms, unlock r, unlock r)' } },
		look: 'Each thread takes the RLock r twice, as a function ' +
			'that holds it calling another that takes it again: ' +
			'its owner re-enters, and the others wait (lock-wait) ' +
			'until it has released it as often. All the ' +
			'computing is inside the lock, so no model runs it ' +
			'side by side: the diagnosis recommends sequential ' +
			'and a smaller critical section. Delete "rlock r;" ' +
			'and run again: a plain Lock taken twice waits for ' +
			'itself, and the run ends in deadlock, the message ' +
			'naming the lock and the task that holds it.',
	},
	{
		id: 'condition',
		title: 'A condition: wait and notify',
		spec: { workload: 'custom', model: 'threads',
			params: { program: 'condition ready; 3 x (cond wait ' +
				  'ready, cpu 20ms); sleep 100ms, cond notify ' +
				  'ready all' } },
		look: 'Three threads wait on the condition ready ' +
			'(event-wait, noted ready) until the fourth calls ' +
			'notify_all() after 100 ms; then all three go on. ' +
			'Change "notify ready all" to "notify ready" and run ' +
			'again: notify() wakes one waiter, and the run ends ' +
			'in deadlock naming the two still waiting.',
	},
	{
		id: 'daemon',
		title: 'Timers and daemon threads',
		spec: { workload: 'custom', model: 'threads',
			params: { program: 'daemon (timer 50ms, sleep 5s); ' +
				  '(timer 100ms, cpu 20ms); 2 x (net 200ms)' } },
		look: 'A threading.Timer waits (its sleep, noted timer) ' +
			'before its task runs. The first thread is a daemon ' +
			'that would sleep 5 s: the run does not wait for it. ' +
			'When the other three have ended, it is cancelled ' +
			'where it stands, its sleep cut at the end of the ' +
			'run, as the interpreter drops daemon threads at ' +
			'exit; the diagnosis says so. Under asyncio the same ' +
			'daemon is a task never awaited, cancelled when ' +
			'asyncio.run returns.',
	},
	{
		id: 'timeout',
		title: 'asyncio.timeout cancels where it waits',
		spec: { workload: 'custom', model: 'asyncio',
			params: { program: 'timeout 250ms 2 x (net 100ms, ' +
				  'net 300ms, cpu 20ms); 2 x (net 100ms, ' +
				  'net 300ms, cpu 20ms)' } },
		look: 'Four tasks make the same two requests; the first two ' +
			'run inside async with asyncio.timeout(0.25). At ' +
			'250 ms their second request is cancelled where it ' +
			'waits: its io ends there, the compute after it never ' +
			'runs, and the task ends as timeout, while the other ' +
			'two go on. Threads have no such thing (a thread is ' +
			'never cancelled), so only the asyncio models take a ' +
			'timeout.',
	},
	{
		id: 'cancel',
		title: 'task.cancel() cuts a task where it waits',
		spec: { workload: 'custom', model: 'asyncio',
			params: { program: '2 x (net 400ms, cpu 20ms); ' +
				  '(sleep 150ms, cancel 1)' } },
		look: 'Task 3 sleeps 150 ms, then calls task.cancel() on ' +
			'task 1 (a cancel step). Task 1 is waiting for its ' +
			'reply: CancelledError meets it there, its io ends at ' +
			'150 ms, its compute never runs, and it ends as ' +
			'cancelled (the tooltip says by whom), while task 2, ' +
			'the same request, goes on. A thread has no cancel, ' +
			'so only the asyncio models take one.',
	},
	{
		id: 'taskgroup',
		title: 'A TaskGroup cancels the siblings of a failure',
		spec: { workload: 'custom', model: 'asyncio',
			params: { program: '(net 250ms, fail); 3 x (net ' +
				  '100ms, cpu 10ms, net 300ms, cpu 10ms)' },
			options: { group: 'taskgroup' } },
		look: 'Four tasks in async with asyncio.TaskGroup(); task 1 ' +
			'raises after its 250 ms request (a fail step) and ' +
			'ends as error. At that moment the group cancels the ' +
			'other three where they wait: their second request ' +
			'stops at 250 ms, the compute after it never runs. ' +
			'Only then does main resume with the ExceptionGroup: ' +
			'switch Rows to Lanes to see its short compute on ' +
			'the main lane.',
	},
	{
		id: 'gather-errors',
		title: 'gather: the first exception reaches main',
		spec: { workload: 'custom', model: 'asyncio',
			params: { program: '(net 250ms, fail); 3 x (net ' +
				  '100ms, cpu 10ms, net 300ms, cpu 10ms)' },
			options: { group: 'gather' } },
		look: 'The same four tasks under a plain asyncio.gather: ' +
			'task 1\'s exception reaches main at 250 ms (Rows: ' +
			'Lanes shows main\'s compute on the main lane). ' +
			'gather cancels nothing, but main returns, and ' +
			'asyncio.run cancels the three still waiting. Set ' +
			'group to return_exceptions and run again: every ' +
			'task runs to its end and the exception is just ' +
			'task 1\'s result.',
	},
	{
		id: 'wait-first',
		title: 'asyncio.wait: main resumes at the first end',
		spec: { workload: 'custom', model: 'asyncio',
			params: { program: '(net 100ms, cpu 10ms); (net ' +
				  '300ms, cpu 10ms); (net 500ms, cpu 10ms)' },
			options: { group: 'wait_first' } },
		look: 'main awaits asyncio.wait(tasks, ' +
			'return_when=FIRST_COMPLETED): it resumes when task 1 ' +
			'ends, at about 110 ms, long before the others ' +
			'(switch Rows to Lanes: its compute on the main ' +
			'lane). asyncio.wait cancels ' +
			'nothing: tasks 2 and 3 run on to their ends while ' +
			'main awaits them.',
	},
	{
		id: 'race',
		title: 'A race loses updates',
		spec: { workload: 'counter', model: 'threads',
			params: { sync: 'none', call: 'yes' } },
		look: 'Five threads each do v = counter; f(); counter = ' +
			'v + 1 a hundred thousand times. Every 5 ms the GIL ' +
			'makes the running thread hand over, and the call ' +
			'between the read and the write is a place where it ' +
			'may: the thread later writes back a stale value, ' +
			'and the updates the others made meanwhile are lost ' +
			'(expected, got, lost). The GIL does not make a ' +
			'read-modify-write safe.',
	},
	{
		id: 'race-39',
		title: 'counter += 1 on Python 3.9',
		spec: { workload: 'counter', model: 'threads',
			/* A million each: every thread outlasts several
			 * switch intervals, however late it starts. */
			params: { sync: 'none', increments: 1000000 },
			options: { python: '3.9' } },
		look: 'A bare counter += 1, as Python 3.9 and earlier run ' +
			'it: the GIL may change hands between almost any ' +
			'two bytecodes, so its switches fall between the ' +
			'read and the write, and updates are lost. From ' +
			'3.10 the same code loses nothing (set python to ' +
			'3.10+): the GIL changes hands only at a loop\'s ' +
			'turn or a call, and counter += 1 has neither ' +
			'inside. It is still a race, one call away.',
	},
	{
		id: 'lock',
		title: 'A lock makes it exact',
		spec: { workload: 'counter', model: 'threads',
			params: { sync: 'lock', call: 'yes' } },
		look: 'The same update, call and all, with a lock around ' +
			'it: nothing is lost. A thread switched out inside ' +
			'the lock (at the call) makes the others wait for ' +
			'it (lock-wait). The updates take turns in any ' +
			'model, so the diagnosis recommends sequential, or ' +
			'each thread counting on its own and adding its ' +
			'total once.',
	},
	{
		id: 'shared-value',
		title: 'Shared memory: a Value and its lock',
		spec: { workload: 'custom', model: 'process-pool',
			params: { program: 'value total; ' +
				  '2 x (incr total 500000)' },
			options: { workers: 2 } },
		look: 'Two worker processes add to one ' +
			'multiprocessing.Value in shared memory, as ' +
			'total.value += 1. Its read and its write each take ' +
			'the Value\'s lock, but not both at once, so the ' +
			'processes overwrite each other\'s updates: got is ' +
			'less than expected. Declare it value total=get_lock ' +
			'(with total.get_lock(): around the update) and ' +
			'nothing is lost, at twice the time per update and ' +
			'with the processes waiting for the lock ' +
			'(lock-wait): shared memory is fast, but only with ' +
			'its lock is it right.',
	},
	{
		id: 'shared-array',
		title: 'Shared memory: an Array, an element each',
		spec: { workload: 'custom', model: 'process-pool',
			params: { program: 'array totals=2; ' +
				  '2 x (incr totals 200000)' },
			options: { workers: 2 } },
		look: 'Two worker processes add to a ' +
			'multiprocessing.Array, each to an element of its ' +
			'own (totals[i] += 1, i the task\'s index): nothing ' +
			'is lost, got equals expected, and nothing needs a ' +
			'lock. Yet every read and write still takes the ' +
			'array\'s one lock, where the two processes meet: ' +
			'each update takes several times as long as in one ' +
			'process, and the diagnosis asks for ' +
			'Array(..., lock=False). Declare array totals=1 and ' +
			'the two share one element: updates are lost, as ' +
			'with a Value.',
	},
	{
		id: 'manager-value',
		title: 'A Manager: every access is a message',
		spec: { workload: 'custom', model: 'process-pool',
			params: { program: 'value hits=manager; ' +
				  '2 x (incr hits 1000)' },
			options: { workers: 2 } },
		look: 'The counter lives in a Manager\'s process; the ' +
			'workers hold proxies to it. Each hits.value += 1 is ' +
			'two round trips there, a read and a write (ipc, ' +
			'noted hits): around a hundred microseconds an ' +
			'update, against a fraction of one for a Value in ' +
			'shared memory, and nothing guards the value between ' +
			'the two messages, so the other worker\'s writes are ' +
			'lost. A Manager shares objects by message passing; ' +
			'the diagnosis says to count in each task and send ' +
			'the total once.',
	},
	{
		id: 'pipe',
		title: 'Message passing: a Pipe copies',
		spec: { workload: 'custom', model: 'process-pool',
			params: { program: 'pipe results; ' +
				  '2 x (cpu 100ms, send results 4MiB); ' +
				  '(recv results, recv results, cpu 10ms)' },
			options: { workers: 3 } },
		look: 'Two worker processes compute, then each sends a 4 MiB ' +
			'result down a multiprocessing.Pipe to a third, which ' +
			'waits for them (queue-wait, noted results). Nothing ' +
			'is shared, so no lock is needed and nothing is lost: ' +
			'the price is the copies (ipc). Each send pickles its ' +
			'message and writes it, and as 4 MiB is more than the ' +
			'pipe\'s 64 KiB buffer, it lasts until the receiver ' +
			'has read it; the receiver then unpickles it. Compare ' +
			'the shared Value\'s lesson: shared memory is fast ' +
			'but needs its lock; message passing copies.',
	},
	{
		id: 'pipeline',
		title: 'Producers and consumers',
		spec: { workload: 'pipeline', model: 'asyncio' },
		look: 'Producers put items on a bounded asyncio.Queue and ' +
			'consumers take them until a poison pill: queue-wait ' +
			'is a producer facing a full queue or a consumer an ' +
			'empty one. The dashed line in the chart below is ' +
			'the queue\'s depth.',
	},
	{
		id: 'scraper',
		title: 'Bounded, rate-limited scraping',
		spec: { workload: 'scraper', model: 'asyncio' },
		look: 'A semaphore keeps at most 5 requests in flight ' +
			'(sem-wait), a rate limit spaces their starts ' +
			'(rate-wait), and a failed attempt backs off before ' +
			'its retry (backoff).',
	},
	{
		id: 'hybrid',
		title: 'asyncio with an executor',
		spec: { workload: 'custom', model: 'asyncio-executor',
			params: { program:
				'4 x (cpu 150ms, net 200ms, cpu 50ms)' },
			options: { workers: 2 } },
		look: 'The event loop hands every compute step to a pool of ' +
			'two threads (run_in_executor) and goes on serving ' +
			'the waits meanwhile: waits overlap with ' +
			'computation, and compute steps queue (grey) for a ' +
			'free worker. The two threads still share the GIL, ' +
			'so they take turns computing (gil-wait); with ' +
			'executor: processes both compute at once.',
	},
	{
		id: 'workers-cpu',
		title: 'How many workers? (CPU)',
		sweep: { param: 'workers', values: [1, 2, 4] },
		spec: { workload: 'crunch', model: 'process-pool',
			params: { tasks: 4, duration: 200 } },
		look: 'Four CPU-bound tasks on 1, 2 and 4 worker processes. ' +
			'The speedup rises with the workers until there is ' +
			'one per core, then levels off: a fifth worker has no ' +
			'core to compute on. Amdahl\'s law (dashed), which ' +
			'assumes a core per worker, keeps rising; the gap is ' +
			'the cores this machine does not have.',
	},
	{
		id: 'workers-io',
		title: 'How many workers? (I/O)',
		sweep: { param: 'workers', values: [1, 2, 4, 8] },
		spec: { workload: 'fetch', model: 'thread-pool',
			params: { tasks: 8, duration: 200, io: 'sleep' } },
		look: 'Eight requests that wait 200 ms, on 1 to 8 pool ' +
			'threads. Waiting needs no core, so each worker more ' +
			'is another wait at once: the speedup follows the ' +
			'workers, and Amdahl\'s law, up to one per request.',
	},
];

/* "6 s", "50 ms" and "8 MiB" never break between number and unit. */
for (const lesson of LESSONS)
	lesson.look = lesson.look.replace(/(\d) (s|ms|MiB)\b/g, '$1\u00a0$2');

const STORE_KEY = 'overlap-lessons';

function stored()
{
	try {
		return JSON.parse(sessionStorage.getItem(STORE_KEY)) || {};
	} catch (err) {
		return {};
	}
}

/* Remembers that run or compare id came from lesson. */
export function rememberLesson(id, lesson)
{
	const map = stored();
	map[id] = lesson.id;
	try {
		sessionStorage.setItem(STORE_KEY, JSON.stringify(map));
	} catch (err) {
		/* storage full or off: the sentence is only lost on reload */
	}
}

/* The lesson run or compare id came from, or null. */
export function lessonFor(id)
{
	const key = id ? stored()[id] : null;
	return LESSONS.find(lesson => lesson.id === key) || null;
}

/*
 * Fills list (a <ul>) with one button per lesson whose workload and model
 * the catalog has; onPick(lesson) when one is pressed.
 */
export function renderLessons(list, catalog, onPick)
{
	clear(list);
	const has = (entries, name) => !name ||
		(entries || []).some(entry => entry.name === name);
	for (const lesson of LESSONS) {
		if (!has(catalog.workloads, lesson.spec.workload) ||
		    !has(catalog.models, lesson.spec.model))
			continue;
		const item = el('li', 'lesson');
		const button = el('button', 'lesson-button');
		button.type = 'button';
		button.dataset.lesson = lesson.id;
		const how = lesson.compare ? 'every model' : lesson.sweep ?
			`${lesson.spec.model}, ${lesson.sweep.param} ` +
			lesson.sweep.values.join(', ') : lesson.spec.model;
		button.append(el('strong', null, lesson.title),
			      el('span', 'lesson-how',
				 `${lesson.spec.workload} · ${how}`));
		button.addEventListener('click', () => onPick(lesson));
		item.append(button);
		list.append(item);
	}
}
